# frozen_string_literal: true

require "open3"

module WowSpec
  # Runs Ruby code in a child process that loads the same wow-fetch as the specs, trusting the
  # mirror. For what only a process shows: signals, fork, what reaches file descriptor 2.
  module ChildHelpers
    def child_env(extra = {})
      { "SSL_CERT_FILE" => mirror.ca_file, "WOW_MIRROR_URL" => mirror.url, "WOW_CACHE_DIR" => cache_dir }.merge(extra)
    end

    # [stdout, stderr, status] of `ruby -e code`.
    def run_child(code, env: {})
      Open3.capture3(child_env(env), *WowSpec.ruby_command, "-e", code)
    end
  end
end

RSpec.configure do |config|
  config.include WowSpec::ChildHelpers, mirror: true
end
