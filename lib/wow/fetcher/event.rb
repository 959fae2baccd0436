# frozen_string_literal: true

module Wow
  class Fetcher
    # Progress of a +download_all+ call, yielded to its block on the calling thread. Every
    # item gets one +:started+, any number of +:progress+ (at most one per
    # +progress_interval+) and +:retrying+, and exactly one terminal event: +:finished+,
    # +:cached+ or +:failed+. Immutable.
    class Event
      TYPES = %i[started progress retrying finished cached failed].freeze
      TERMINAL_TYPES = %i[finished cached failed].freeze

      # @return [Symbol] one of TYPES
      attr_reader :type
      # @return [String] the item's +full_name+
      attr_reader :full_name
      # @return [Integer] bytes of this item received so far (the file size when terminal)
      attr_reader :bytes
      # @return [Integer, nil] the item's size when known (Content-Length)
      attr_reader :total
      # @return [Integer] the attempt, from 1; for +:retrying+, the attempt about to start
      attr_reader :attempt
      # @return [Wow::Fetcher::Error, nil] the failure behind +:retrying+ and +:failed+
      attr_reader :error
      # @return [Integer] items of the call with a terminal event so far
      attr_reader :done
      # @return [Integer] items in the call, duplicates included
      attr_reader :count
      # @return [Integer] bytes received so far over the whole call
      attr_reader :bytes_done
      # @return [Integer] sum of the sizes known so far
      attr_reader :bytes_total

      def initialize(type:, full_name:, bytes: 0, total: nil, attempt: 1, error: nil, done: 0,
                     count: 0, bytes_done: 0, bytes_total: 0)
        @type = type
        @full_name = full_name
        @bytes = bytes
        @total = total
        @attempt = attempt
        @error = error
        @done = done
        @count = count
        @bytes_done = bytes_done
        @bytes_total = bytes_total
        freeze
      end

      # @return [Boolean] true for +:finished+, +:cached+ and +:failed+
      def terminal?
        TERMINAL_TYPES.include?(type)
      end

      # @return [Hash] the fields, with the error as its message
      def to_h
        {
          type: type, full_name: full_name, bytes: bytes, total: total, attempt: attempt,
          error: error&.message, done: done, count: count, bytes_done: bytes_done,
          bytes_total: bytes_total
        }
      end

      def inspect
        size = total ? "#{bytes}/#{total}" : bytes.to_s
        failure = error ? " #{error.message.inspect}" : ""
        "#<#{self.class.name} #{type} #{full_name} #{size} bytes, #{done}/#{count} done#{failure}>"
      end
    end
  end
end
