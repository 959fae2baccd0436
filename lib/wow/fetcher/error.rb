# frozen_string_literal: true

module Wow
  class Fetcher
    # The base of everything wow-fetch raises or reports, apart from +ArgumentError+ for bad
    # input (raised before any network traffic). Messages never contain credentials: URLs in
    # them have their user information masked.
    #
    # Raised as is when a run cannot start (an unreadable CA bundle) and reported as
    # Result#error for a file that could not be written.
    class Error < StandardError; end

    # The bytes received did not have the expected SHA-256, twice (a mismatch is retried once
    # from scratch, since a response cut short by a proxy looks the same). The bad bytes were
    # not kept anywhere.
    class ChecksumMismatch < Error
      # @return [String] the SHA-256 the caller expected, 64 hex characters
      attr_reader :expected
      # @return [String] the SHA-256 of the bytes received
      attr_reader :actual
      # @return [String, nil] the URL, credentials masked
      attr_reader :url

      def initialize(message = nil, expected: nil, actual: nil, url: nil)
        super(message)
        @expected = expected
        @actual = actual
        @url = url
      end
    end

    # The server answered with an HTTP error status (after the retries a retryable status
    # such as 429 or 503 gets).
    class HTTPError < Error
      # @return [Integer, nil] the HTTP status, e.g. 404
      attr_reader :status
      # @return [String, nil] the URL, credentials masked
      attr_reader :url

      def initialize(message = nil, status: nil, url: nil)
        super(message)
        @status = status
        @url = url
      end
    end

    # The transfer failed below HTTP: connect, TLS, reset, timeout, a body cut short, a
    # protocol error, or a refused redirect (https to http, too many hops).
    class NetworkError < Error
      # @return [String, nil] the URL, credentials masked
      attr_reader :url
      # @return [Symbol, nil] +:connect+, +:tls+, +:reset+, +:timeout+, +:truncated+,
      #   +:protocol+ or +:redirect+
      attr_reader :reason

      def initialize(message = nil, url: nil, reason: nil)
        super(message)
        @url = url
        @reason = reason
      end
    end

    # Raised by +resolve+ (and +download_all(..., resolve: true)+) when a requested gem is not
    # in the source's index, or no set of versions satisfies every requirement. The message
    # is the resolver's explanation, e.g. "Because sinatra 4.0.0 depends on rack >= 3.0 and you
    # requested rack < 3, ...".
    class ResolveError < Error; end

    # A bug in wow-fetch, never a network or disk failure: raised by +download_all+ when the
    # engine could not give every item its result (a panic in the task that runs or reports
    # the call), instead of returning fewer results than items; reported as Result#error for
    # an item whose own task panicked. Please report it.
    class InternalError < Error; end

    # Raised by +download_all+ (unless +raise_on_failure: false+) after every item has been
    # attempted, when at least one failed. The message lists every failed item and why.
    class DownloadError < Error
      # @return [Array<Result>] every item's result, in input order
      attr_reader :results

      # @param results [Array<Result>]
      def initialize(results = [])
        @results = results.dup.freeze
        super(summary)
      end

      # @return [Array<Result>] the failed results, in input order
      def failures
        results.reject(&:ok?)
      end

      private

      def summary
        lines = failures.map { |result| "  #{result.full_name}: #{result.error&.message || "failed"}" }
        ["#{lines.size} of #{results.size} gems failed:", *lines].join("\n")
      end
    end
  end
end
