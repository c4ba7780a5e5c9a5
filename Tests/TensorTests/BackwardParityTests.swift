import Checkpoint
import Foundation
import Tensor
import TestSupport
import XCTest

/// Every training kernel's forward and gradients against torch autograd
/// (`scripts/fixtures/ops.py`: float64 references on the same float32 inputs, stored as float32).
///
/// Tolerances, max-abs:
/// - 1e-5 for elementwise ops and per-row reductions over ~40 values (GELU, quick GELU, SwiGLU,
///   rotary, RMSNorm, LayerNorm, embedding): a few float32 roundings of O(1) values.
/// - 1e-4 for GEMMs, attention and the loss: sums of tens of products in an order OpenBLAS
///   chooses, softmax exponentials, and loss sums of magnitude ~50 (float32 ulp there is 4e-6).
///
/// Each backward runs twice onto zeroed gradients: after the first call they must equal the
/// reference, after the second twice the reference (they accumulate, never overwrite).
///
/// A failure on values that were right before usually means a stale fixture:
/// regenerate with `python scripts/fixtures/ops.py` (torch in scripts/requirements-fixtures.txt).
/// Sizes and constants of the op fixtures (`ops.json`, snake_case as Python writes it).
struct OpsConfig: Decodable {
    let heads: Int, kv_heads: Int, head_dim: Int, bidirectional_heads: Int
    let long_heads: Int, long_kv_heads: Int
    let eps: Float, theta: Double
}

final class BackwardParityTests: XCTestCase {
    static let elementwise: Float = 1e-5
    static let reduction: Float = 1e-4

    var dump: SafeTensorsFile!

    override func setUpWithError() throws {
        dump = try Fixtures.tensors("ops/ops.safetensors")
    }

    func values(_ name: String) throws -> [Float] { try dump.tensor(name).toFloatArray() }
    func shape(_ name: String) throws -> [Int] { try dump.tensor(name).shape }
    func ints(_ name: String) throws -> [Int32] {
        let t = try dump.tensor(name)
        XCTAssertEqual(t.dtype, .i32, name)
        let p = t.rawPointer.assumingMemoryBound(to: Int32.self)
        return (0..<t.count).map { p[$0] }
    }

    /// Compares `actual` with the reference `name` (times `factor`), shapes first.
    func check(_ actual: [Float], _ name: String, tolerance: Float, factor: Float = 1,
               file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try values(name).map { $0 * factor }
        XCTAssertEqual(actual.count, expected.count, "\(name): element count", file: file, line: line)
        guard actual.count == expected.count else { return }
        let err = maxAbsDifference(actual, expected)
        if factor == 1 { print(String(format: "  %-24@ max |Δ| %.2e", name as NSString, err)) }
        XCTAssertLessThanOrEqual(err, tolerance * factor, "\(name)×\(factor): \(differenceReport(actual, expected))",
                                 file: file, line: line)
    }

    /// Runs `backward` onto zeroed gradient buffers (one per reference name), checks them
    /// against the references, runs it again and checks 2× the references.
    func checkBackward(_ names: [String], tolerance: Float,
                       file: StaticString = #filePath, line: UInt = #line,
                       _ backward: ([UnsafeMutablePointer<Float>]) -> Void) throws {
        let counts = try names.map { try dump.tensor($0).count }
        let buffers = counts.map { UnsafeMutablePointer<Float>.allocate(capacity: $0) }
        defer { buffers.forEach { $0.deallocate() } }
        for (b, n) in zip(buffers, counts) { b.initialize(repeating: 0, count: n) }
        for factor: Float in [1, 2] {
            backward(buffers)
            for (i, name) in names.enumerated() {
                try check(Array(UnsafeBufferPointer(start: buffers[i], count: counts[i])), name,
                          tolerance: tolerance, factor: factor, file: file, line: line)
            }
        }
    }

    func testLinear() throws {
        for op in ["linear", "linear_nobias", "linear_f16", "linear_bf16"] {
            let weight = try dump.tensor("\(op).weight")
            let bias = dump.info("\(op).bias") == nil ? nil : try dump.tensor("\(op).bias")
            let x = try values("\(op).x"), dy = try values("\(op).dy")
            let (t, n) = (x.count / weight.shape[1], weight.shape[0])
            XCTAssertEqual(try shape("\(op).y"), [t, n])
            var y = [Float](repeating: 0, count: t * n)
            let scratch = ScratchBuffer()
            linearForward(&y, x, weight: weight, bias: bias, rows: t, scratch: scratch)
            try check(y, "\(op).y", tolerance: Self.reduction)
            let names = ["\(op).dx", "\(op).dweight"] + (bias == nil ? [] : ["\(op).dbias"])
            try checkBackward(names, tolerance: Self.reduction) { g in
                linearBackward(dx: g[0], dWeight: g[1], dBias: bias == nil ? nil : g[2],
                               dy: dy, x: x, weight: weight, rows: t, scratch: scratch)
            }
        }
    }

    func testRMSNorm() throws {
        let x = try values("rmsnorm.x"), w = try values("rmsnorm.weight"), dy = try values("rmsnorm.dy")
        let (d, eps) = (w.count, try Fixtures.json("ops/ops.json", as: OpsConfig.self).eps)
        let t = x.count / d
        var y = [Float](repeating: 0, count: x.count)
        rmsNormForward(&y, x, weight: w, rows: t, dim: d, eps: eps)
        try check(y, "rmsnorm.y", tolerance: Self.elementwise)
        try checkBackward(["rmsnorm.dx", "rmsnorm.dweight"], tolerance: Self.elementwise) { g in
            rmsNormBackward(dx: g[0], dWeight: g[1], dy: dy, x: x, weight: w, rows: t, dim: d, eps: eps)
        }
    }

    func testLayerNorm() throws {
        let x = try values("layernorm.x"), w = try values("layernorm.weight"), b = try values("layernorm.bias")
        let dy = try values("layernorm.dy")
        let (d, eps) = (w.count, try Fixtures.json("ops/ops.json", as: OpsConfig.self).eps)
        let t = x.count / d
        var y = [Float](repeating: 0, count: x.count)
        layerNormForward(&y, x, weight: w, bias: b, rows: t, dim: d, eps: eps)
        try check(y, "layernorm.y", tolerance: Self.elementwise)
        try checkBackward(["layernorm.dx", "layernorm.dweight", "layernorm.dbias"], tolerance: Self.elementwise) { g in
            layerNormBackward(dx: g[0], dWeight: g[1], dBias: g[2], dy: dy, x: x, weight: w, rows: t, dim: d, eps: eps)
        }
    }

    /// Rotary's backward rewrites in place (like `apply`), so it is checked once, not for accumulation.
    func testRotary() throws {
        let config = try Fixtures.json("ops/ops.json", as: OpsConfig.self)
        let (h, e) = (config.heads, config.head_dim)
        let rope = RotaryEmbedding(headDim: e, theta: config.theta)
        var x = try values("rotary.x"), dx = try values("rotary.dy")
        let t = x.count / (h * e)
        var cos = [Float](), sin = [Float]()
        rope.table(start: 0, count: t, cos: &cos, sin: &sin)
        let half = e / 2
        for i in 0..<t {
            cos.withUnsafeBufferPointer { c in
                sin.withUnsafeBufferPointer { s in
                    let (ci, si) = (c.baseAddress! + i * half, s.baseAddress! + i * half)
                    x.withUnsafeMutableBufferPointer { rope.apply($0.baseAddress! + i * h * e, heads: h, cos: ci, sin: si) }
                    dx.withUnsafeMutableBufferPointer { rope.applyBackward($0.baseAddress! + i * h * e, heads: h, cos: ci, sin: si) }
                }
            }
        }
        try check(x, "rotary.y", tolerance: Self.elementwise)
        try check(dx, "rotary.dx", tolerance: Self.elementwise)
    }

    func testCausalAttentionGQA() throws {
        let config = try Fixtures.json("ops/ops.json", as: OpsConfig.self)
        try checkCausalAttention("attention", heads: config.heads, kvHeads: config.kv_heads, headDim: config.head_dim)
    }

    /// 150 tokens: three blocks of query rows (64, 64, 22), each stopping at its last visible key;
    /// the backward with probabilities recomputed gives the same gradients.
    func testCausalAttentionAcrossQueryBlocks() throws {
        let config = try Fixtures.json("ops/ops.json", as: OpsConfig.self)
        let (h, g, e) = (config.long_heads, config.long_kv_heads, config.head_dim)
        try checkCausalAttention("attention_long", heads: h, kvHeads: g, headDim: e)
        let q = try values("attention_long.q"), k = try values("attention_long.k"), v = try values("attention_long.v")
        let dy = try values("attention_long.dy"), t = q.count / (h * e)
        XCTAssertGreaterThan(t, 128)
        let scratch = ScratchBuffer()
        var out = [Float](repeating: .nan, count: t * h * e)
        causalAttentionForward(out: &out, q: q, k: k, v: v, tokens: t, heads: h, kvHeads: g, headDim: e, scratch: scratch)
        try check(out, "attention_long.y", tolerance: Self.reduction)
        try checkBackward(["attention_long.dq", "attention_long.dk", "attention_long.dv"], tolerance: Self.reduction) { d in
            causalAttentionBackwardRecomputing(dq: d[0], dk: d[1], dv: d[2], dOut: dy, q: q, k: k, v: v,
                                               tokens: t, heads: h, kvHeads: g, headDim: e, scratch: scratch)
        }
    }

    /// Forward (output and saved probabilities) and backward of the causal GQA attention on the
    /// fixture tensors `<name>.*`.
    func checkCausalAttention(_ name: String, heads h: Int, kvHeads g: Int, headDim e: Int,
                              file: StaticString = #filePath, line: UInt = #line) throws {
        let q = try values("\(name).q"), k = try values("\(name).k"), v = try values("\(name).v")
        let dy = try values("\(name).dy")
        let t = q.count / (h * e)
        XCTAssertEqual(try shape("\(name).k"), [t, g * e], file: file, line: line)
        var out = [Float](repeating: 0, count: t * h * e), probs = [Float](repeating: .nan, count: h * t * t)
        causalAttentionForward(out: &out, probs: &probs, q: q, k: k, v: v, tokens: t, heads: h, kvHeads: g, headDim: e)
        try check(out, "\(name).y", tolerance: Self.reduction, file: file, line: line)
        try check(probs, "\(name).probs", tolerance: Self.reduction, file: file, line: line)
        let scratch = ScratchBuffer()
        try checkBackward(["\(name).dq", "\(name).dk", "\(name).dv"], tolerance: Self.reduction, file: file, line: line) { d in
            causalAttentionBackward(dq: d[0], dk: d[1], dv: d[2], dOut: dy, q: q, k: k, v: v, probs: probs,
                                    tokens: t, heads: h, kvHeads: g, headDim: e, scratch: scratch)
        }
    }

    func testBidirectionalAttention() throws {
        let config = try Fixtures.json("ops/ops.json", as: OpsConfig.self)
        let (h, e) = (config.bidirectional_heads, config.head_dim)
        let q = try values("bidirectional.q"), k = try values("bidirectional.k"), v = try values("bidirectional.v")
        let dy = try values("bidirectional.dy")
        let t = q.count / (h * e)
        var out = [Float](repeating: 0, count: t * h * e), probs = [Float](repeating: .nan, count: h * t * t)
        bidirectionalAttentionForward(out: &out, probs: &probs, q: q, k: k, v: v, tokens: t, heads: h, headDim: e)
        try check(out, "bidirectional.y", tolerance: Self.reduction)
        try check(probs, "bidirectional.probs", tolerance: Self.reduction)
        let scratch = ScratchBuffer()
        try checkBackward(["bidirectional.dq", "bidirectional.dk", "bidirectional.dv"], tolerance: Self.reduction) { d in
            bidirectionalAttentionBackward(dq: d[0], dk: d[1], dv: d[2], dOut: dy, q: q, k: k, v: v, probs: probs,
                                           tokens: t, heads: h, headDim: e, scratch: scratch)
        }
    }

    func testSwiGLU() throws {
        let gate = try values("swiglu.gate"), up = try values("swiglu.up"), dy = try values("swiglu.dy")
        var out = [Float](repeating: 0, count: gate.count)
        swigluForward(&out, gate: gate, up: up, count: gate.count)
        try check(out, "swiglu.y", tolerance: Self.elementwise)
        try checkBackward(["swiglu.dgate", "swiglu.dup"], tolerance: Self.elementwise) { g in
            swigluBackward(dGate: g[0], dUp: g[1], dOut: dy, gate: gate, up: up, count: gate.count)
        }
    }

    /// Inputs include tails at ±8, ±20, ±60, where exp overflows or the density underflows.
    func testGELUs() throws {
        for op in ["gelu", "quick_gelu"] {
            let x = try values("\(op).x"), dy = try values("\(op).dy")
            var y = x
            if op == "gelu" { geluInPlace(&y, count: y.count) } else { quickGELUInPlace(&y, count: y.count) }
            try check(y, "\(op).y", tolerance: Self.elementwise)
            try checkBackward(["\(op).dx"], tolerance: Self.elementwise) { g in
                if op == "gelu" { geluBackward(dx: g[0], dy: dy, x: x, count: x.count) }
                else { quickGELUBackward(dx: g[0], dy: dy, x: x, count: x.count) }
            }
        }
    }

    func testCrossEntropy() throws {
        let logits = try values("ce.logits"), targets = try ints("ce.targets")
        let (t, v) = (targets.count, logits.count / targets.count)
        let expectedCount = Int(try values("ce.count")[0])
        let scale = 1 / Float(expectedCount)
        var result: (lossSum: Double, count: Int) = (0, 0)
        try checkBackward(["ce.dlogits"], tolerance: Self.reduction) { g in
            result = crossEntropyForwardBackward(logits: logits, targets: targets, rows: t, vocabulary: v,
                                                 dLogits: g[0], scale: scale)
        }
        XCTAssertEqual(result.count, expectedCount)
        try check([Float(result.lossSum)], "ce.loss_sum", tolerance: Self.reduction)
    }

    func testEmbedding() throws {
        let table = try dump.tensor("embedding.table"), tokens = try ints("embedding.tokens").map(Int.init)
        let dy = try values("embedding.dy")
        let d = table.shape[1]
        var y = [Float](repeating: 0, count: tokens.count * d)
        embeddingForward(&y, table: table, tokens: tokens)
        try check(y, "embedding.y", tolerance: 0)
        try checkBackward(["embedding.dtable"], tolerance: Self.elementwise) { g in
            embeddingBackward(dTable: g[0], dOut: dy, tokens: tokens, dim: d)
        }
    }
}
