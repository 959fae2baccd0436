# frozen_string_literal: true

require "fileutils"
require "tmpdir"
require_relative "mirror_helper"

# Where the end-to-end specs look for the mirror, and what they do when it is missing (issue 15:
# they ignored CARGO_TARGET_DIR, and skipped in CI too).
RSpec.describe WowIntegration do
  around do |example|
    names = %w[CARGO_TARGET_DIR CI WOW_MIRROR_BIN]
    saved = ENV.to_h.slice(*names)
    ENV.delete("WOW_MIRROR_BIN") # bin/matrix names one binary for every Ruby; these look for it
    Dir.mktmpdir("wow-target") do |dir|
      @target = dir
      example.run
    ensure
      names.each { |name| saved.key?(name) ? ENV[name] = saved[name] : ENV.delete(name) }
    end
  end

  it "finds the mirror binary in $CARGO_TARGET_DIR" do
    binary = File.join(@target, "debug", "wow-mirror")
    FileUtils.mkdir_p(File.dirname(binary))
    File.write(binary, "#!/bin/sh\n")
    File.chmod(0o755, binary)
    ENV["CARGO_TARGET_DIR"] = @target

    expect(described_class.target_dir).to eq(@target)
    expect(described_class.mirror_binary).to eq(binary)
  end

  it "skips with the reason outside CI, and fails in CI, when the mirror is not built" do
    ENV["CARGO_TARGET_DIR"] = @target
    ENV.delete("CI")
    expect(described_class.missing).to eq(
      "the wow-mirror binary is not built in #{@target} (cargo build -p wow-mirror)"
    )

    ENV["CI"] = "true"
    expect { described_class.missing }.to raise_error(RuntimeError, /CI is set, so the end-to-end specs must run/)
  end
end
