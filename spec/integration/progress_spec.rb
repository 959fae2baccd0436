# frozen_string_literal: true

# What a call without a block prints on file descriptor 2 (README.md, the `progress:` option).
RSpec.describe "progress output", mirror: true do
  NAMES = %w[rack-3.0.9 i18n-1.14.1].freeze

  def stderr_of(progress)
    code = <<~RUBY
      require "wow/fetch"
      Wow::Fetcher.download_all(#{NAMES.inspect}, source: ENV["WOW_MIRROR_URL"], progress: #{progress.inspect})
    RUBY
    _out, err, status = run_child(code)
    expect(status).to be_success, err
    err
  end

  it "draws the live view with progress: :bar, even off a terminal" do
    throttle("rack-3.0.9", 300_000)
    err = stderr_of(:bar)

    expect(err).to include("✓ rack-3.0.9.gem (154.00 KiB)", "✓ i18n-1.14.1.gem (52.00 KiB)")
    expect(err).to include("/2 gems", "rack-3.0.9").and match(/\e\[\d*A/)
  end

  it "prints nothing off a terminal with progress: :auto" do
    expect(stderr_of(:auto)).to eq("")
  end

  it "prints nothing with progress: false" do
    expect(stderr_of(false)).to eq("")
  end

  it "prints one line per item with progress: :plain" do
    expect(stderr_of(:plain).lines.sort).to eq(["✓ i18n-1.14.1.gem (52.00 KiB)\n", "✓ rack-3.0.9.gem (154.00 KiB)\n"])
  end

  it "draws the live view on a terminal with progress: :auto", if: system("command -v script >/dev/null") do
    code = <<~RUBY
      require "wow/fetch"
      Wow::Fetcher.download_all(#{NAMES.inspect}, source: ENV["WOW_MIRROR_URL"])
    RUBY
    command = [*WowSpec.ruby_command, "-e", code].map { |arg| Shellwords.escape(arg) }.join(" ")
    out, status = Open3.capture2e(child_env("TERM" => "xterm"), "script", "-qec", command, "/dev/null")

    expect(status).to be_success, out
    expect(out).to include("✓ rack-3.0.9.gem", "✓ i18n-1.14.1.gem")
  end
end
