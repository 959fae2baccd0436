# frozen_string_literal: true

module Wow
  class Fetcher
    # What happened to one item of a +download_all+ call. Calls return one per item, in input
    # order (a duplicated item gets a result per occurrence). Immutable.
    class Result
      # @return [String]
      attr_reader :name, :version, :platform
      # @return [String] +name-version+, plus +-platform+ unless the platform is +ruby+
      attr_reader :full_name
      # @return [String] the URL fetched (or that would have been), credentials masked
      attr_reader :url
      # @return [String, nil] the file: in +dest+ when given, else in the cache; nil when failed
      attr_reader :path
      # @return [String, nil] hex SHA-256 of the bytes on disk; nil when failed
      attr_reader :sha256
      # @return [Integer] size of the file
      attr_reader :bytes
      # @return [Symbol] +:downloaded+, +:cached+ or +:failed+
      attr_reader :status
      # @return [Wow::Fetcher::Error, nil] why it failed
      attr_reader :error
      # @return [Integer] requests made (0 for a cache hit)
      attr_reader :attempts
      # @return [Float] seconds spent on this item
      attr_reader :elapsed

      def initialize(name:, version:, platform:, full_name:, url:, status:, path: nil, sha256: nil,
                     bytes: 0, error: nil, attempts: 0, elapsed: 0.0)
        @name = name
        @version = version
        @platform = platform
        @full_name = full_name
        @url = url
        @path = path
        @sha256 = sha256
        @bytes = bytes
        @status = status
        @error = error
        @attempts = attempts
        @elapsed = elapsed
        freeze
      end

      # @return [Boolean] true when the file is in place (downloaded or cached)
      def ok?
        status != :failed
      end

      # @return [Hash] the fields, with the error as its message
      def to_h
        {
          name: name, version: version, platform: platform, full_name: full_name, url: url,
          path: path, sha256: sha256, bytes: bytes, status: status, error: error&.message,
          attempts: attempts, elapsed: elapsed
        }
      end

      def inspect
        detail = ok? ? "#{bytes} bytes, path=#{path.inspect}" : error&.message.inspect
        format("#<%s %s %s %s in %.3fs>", self.class.name, full_name, status, detail, elapsed)
      end
    end
  end
end
