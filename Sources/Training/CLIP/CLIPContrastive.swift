import Foundation
import Tensor

// CLIP's symmetric contrastive loss (Radford et al. 2021), as HF `CLIPModel` computes it:
//
//     u = img / ‖img‖,  w = txt / ‖txt‖,  s = exp(logit_scale)
//     logits_per_text = s · w · uᵀ          (B, B); logits_per_image is its transpose
//     loss = (CE(logits_per_text, arange B) + CE(logits_per_image, arange B)) / 2
//
// Shape legend: B pairs (pair i is image i with caption i), J joint dimension.

/// The result of one contrastive forward/backward.
public struct CLIPContrastiveResult: Sendable {
    public var loss: Float
    /// (B, B): row i = caption i against every image, `exp(logit_scale)`-scaled cosines.
    public var logitsPerText: [Float]
    /// Images whose best-scoring caption is their own (image → text retrieval top-1), over B.
    public var imageToTextAccuracy: Float
}

public enum CLIPContrastive {
    /// OpenAI CLIP clamps the learned temperature so logits are scaled by at most 100.
    public static let maxLogitScale = Float(log(100.0))
    /// The initial logit scale, ln(1/0.07) (HF `logit_scale_init_value` 2.6592).
    public static let initialLogitScale: Float = 2.6592

    /// Loss of B image embeddings against B text embeddings (both (B, J), unnormalised);
    /// ACCUMULATES dImage, dText (B, J) and dLogitScale.
    ///
    ///     let r = CLIPContrastive.forwardBackward(image: img, text: txt, batch: b, dim: j, logitScale: ls,
    ///                                             dImage: &dImg, dText: &dTxt, dLogitScale: &dLs)
    public static func forwardBackward(image: UnsafePointer<Float>, text: UnsafePointer<Float>, batch b: Int, dim j: Int,
                                       logitScale: Float, dImage: UnsafeMutablePointer<Float>,
                                       dText: UnsafeMutablePointer<Float>, dLogitScale: inout Float) -> CLIPContrastiveResult {
        let (u, imageNorms) = normalizedRows(image, rows: b, dim: j)
        let (w, textNorms) = normalizedRows(text, rows: b, dim: j)
        let s = expf(logitScale)
        var cosines = [Float](repeating: 0, count: b * b)   // (B text, B image)
        for i in 0..<b { for k in 0..<b { cosines[i * b + k] = dot(w, i, u, k, j) } }
        let logitsText = cosines.map { s * $0 }
        var logitsImage = [Float](repeating: 0, count: b * b)
        for i in 0..<b { for k in 0..<b { logitsImage[k * b + i] = logitsText[i * b + k] } }

        // Both cross-entropies average over B; the loss halves their sum, hence 1/(2B).
        let targets = (0..<b).map { Int32($0) }
        var dText2 = [Float](repeating: 0, count: b * b), dImage2 = dText2
        let scale = 1 / Float(2 * b)
        let textCE = crossEntropyForwardBackward(logits: logitsText, targets: targets, rows: b, vocabulary: b,
                                                 dLogits: &dText2, scale: scale)
        let imageCE = crossEntropyForwardBackward(logits: logitsImage, targets: targets, rows: b, vocabulary: b,
                                                  dLogits: &dImage2, scale: scale)
        for i in 0..<b { for k in 0..<b { dText2[i * b + k] += dImage2[k * b + i] } }

        // logits = s · C: dC = s · dLogits; d logit_scale = Σ dLogits ⊙ s·C (ds/d logit_scale = s).
        var dScale: Double = 0
        for x in 0..<(b * b) { dScale += Double(dText2[x] * logitsText[x]) }
        dLogitScale += Float(dScale)
        var dw = [Float](repeating: 0, count: b * j), du = dw
        for i in 0..<b {
            for k in 0..<b {
                let g = s * dText2[i * b + k]
                for c in 0..<j {
                    dw[i * j + c] += g * u[k * j + c]
                    du[k * j + c] += g * w[i * j + c]
                }
            }
        }
        normalizeBackward(dx: dImage, du: du, u: u, norms: imageNorms, dim: j)
        normalizeBackward(dx: dText, du: dw, u: w, norms: textNorms, dim: j)

        var correct = 0
        for k in 0..<b {
            let row = logitsImage[(k * b)..<((k + 1) * b)]
            if row.firstIndex(of: row.max()!)! - k * b == k { correct += 1 }
        }
        let loss = Float((textCE.lossSum / Double(b) + imageCE.lossSum / Double(b)) / 2)
        return CLIPContrastiveResult(loss: loss, logitsPerText: logitsText, imageToTextAccuracy: Float(correct) / Float(b))
    }

    /// Rows divided by their L2 norms (HF `_get_vector_norm`: no epsilon), and the norms.
    static func normalizedRows(_ x: UnsafePointer<Float>, rows: Int, dim j: Int) -> ([Float], [Float]) {
        var out = [Float](repeating: 0, count: rows * j), norms = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            var ss: Float = 0
            for c in 0..<j { ss += x[r * j + c] * x[r * j + c] }
            norms[r] = ss.squareRoot()
            for c in 0..<j { out[r * j + c] = x[r * j + c] / norms[r] }
        }
        return (out, norms)
    }

    /// Backward of u = x/‖x‖, accumulating: dx += (du − u·(u·du)) / ‖x‖ (the part of du along u
    /// only changes the length, which normalisation removes).
    static func normalizeBackward(dx: UnsafeMutablePointer<Float>, du: [Float], u: [Float], norms: [Float], dim j: Int) {
        for r in norms.indices {
            var along: Float = 0
            for c in 0..<j { along += u[r * j + c] * du[r * j + c] }
            for c in 0..<j { dx[r * j + c] += (du[r * j + c] - u[r * j + c] * along) / norms[r] }
        }
    }

    private static func dot(_ a: [Float], _ i: Int, _ b: [Float], _ k: Int, _ j: Int) -> Float {
        var s: Float = 0
        for c in 0..<j { s += a[i * j + c] * b[k * j + c] }
        return s
    }
}
