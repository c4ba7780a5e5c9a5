import Foundation

/// When to try a request again: exponential backoff with jitter, capped, and the server's
/// `Retry-After` honoured when it gives one.
///
/// ```swift
/// let policy = RetryPolicy(maxAttempts: 6, baseDelay: .milliseconds(500))
/// let wait = policy.delay(beforeAttempt: 3, retryAfter: nil, unit: 0.5)  // about 1.5 s
/// ```
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    /// The wait before the second attempt; it doubles for each later one.
    public var baseDelay: Duration
    /// No backoff wait is longer.
    public var maxDelay: Duration
    /// A server's `Retry-After` is honoured up to this.
    public var maxRetryAfter: Duration

    public init(maxAttempts: Int = 8, baseDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(60),
                maxRetryAfter: Duration = .seconds(600)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    /// The wait before attempt `attempt` (2, 3, …). `unit` is a random number in [0, 1): half the
    /// backoff is fixed and half is jitter, so clients that failed together spread out.
    public func delay(beforeAttempt attempt: Int, retryAfter: Duration?, unit: Double) -> Duration {
        if let retryAfter { return min(retryAfter, maxRetryAfter) }
        let doublings = min(max(attempt - 2, 0), 30)
        let backoff = min(baseDelay * (1 << doublings), maxDelay)
        return backoff * (0.5 + 0.5 * unit)
    }

    /// A `Retry-After` header: delay seconds ("120") or an HTTP date; nil when absent or unreadable.
    public static func parseRetryAfter(_ value: String?, now: Date = Date()) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Double(value) { return seconds >= 0 ? .milliseconds(Int64(seconds * 1000)) : nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .milliseconds(Int64(max(0, date.timeIntervalSince(now)) * 1000))
    }
}
