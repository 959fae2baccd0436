# frozen_string_literal: true

# The specs exercise the gem as users load it: by default lib/ plus the extension `rake compile`
# put there; with WOW_FETCH_SPEC_INSTALLED=1 (`rake spec:installed`) the gem installed into the
# GEM_HOME of the environment, with the checkout's lib/ taken off the load path.

require "rbconfig"
require "tmpdir"

module WowSpec
  ROOT = File.expand_path("..", __dir__)
  LIB = File.join(ROOT, "lib")

  module_function

  def installed?
    ENV["WOW_FETCH_SPEC_INSTALLED"] == "1"
  end

  # The command that starts a child Ruby loading the same wow-fetch as this process.
  def ruby_command
    installed? ? [RbConfig.ruby] : [RbConfig.ruby, "-I", LIB]
  end

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end
end

# RSpec puts lib/ on the load path before it loads this file.
$LOAD_PATH.delete(WowSpec::LIB) if WowSpec.installed?
begin
  require "wow/fetch"
rescue LoadError => e
  raise e unless e.path.to_s.end_with?("wow_fetch")

  abort "The extension is not built (#{e.message}): run `rake compile` first" \
        "#{" and install the gem (rake spec:installed does both)" if WowSpec.installed?}."
end

Dir[File.join(__dir__, "support", "*.rb")].sort.each { |file| require file }

RSpec.configure do |config|
  config.disable_monkey_patching!
  config.expect_with(:rspec) { |c| c.syntax = :expect }
  config.order = :random
  # `bundle install` with the plugin runs once per cell of the compatibility matrix, each with
  # its own Ruby and Bundler: bin/matrix selects them (WOW_BUNDLER_MATRIX=1); a plain `rspec`
  # leaves them out rather than run one cell twice.
  config.filter_run_excluding bundler: true unless ENV["WOW_BUNDLER_MATRIX"] == "1"
  Kernel.srand config.seed

  config.before(:suite) do
    loaded = $LOADED_FEATURES.grep(%r{/wow/fetch/(?:\d+\.\d+/)?wow_fetch\.}).first
    from_checkout = loaded&.start_with?(WowSpec::LIB)
    raise "expected the installed gem, loaded #{loaded}" if WowSpec.installed? && from_checkout
  end
end
