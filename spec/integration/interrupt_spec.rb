# frozen_string_literal: true

# Ctrl-C, Thread#raise, Thread#kill and an exception in the block cancel every transfer within
# 0.2 s, remove temp files, and propagate (README.md, "What you can rely on": interrupts).
RSpec.describe "Interrupting a download", mirror: true do
  # Every gem of the call crawls, so nothing can finish before the interrupt.
  SLOW = %w[nokogiri-1.16.2-x86_64-linux sqlite3-1.7.2-x86_64-linux pg-1.5.5-x86_64-linux].freeze

  before { SLOW.each { |name| throttle(name, 50_000) } }

  def dest
    File.join(tmp, "dest")
  end

  def expect_clean
    expect(leftovers(tmp)).to be_empty
    expect(Dir.glob(File.join(tmp, "**", "*.gem"))).to be_empty
  end

  # Runs a slow download on a thread; returns it once transfers are under way.
  def slow_download_thread
    under_way = Queue.new
    thread = Thread.new do
      fetch(SLOW, dest: dest) { |e| under_way << true if e.type == :progress }
    end
    thread.report_on_exception = false
    under_way.pop
    thread
  end

  it "exits a child process within 0.5 s of SIGINT, leaving no temp files" do
    code = <<~RUBY
      require "wow/fetch"
      $stdout.sync = true
      announced = false
      Wow::Fetcher.download_all(#{SLOW.inspect}, source: ENV["WOW_MIRROR_URL"], dest: #{dest.inspect}) do |event|
        next if announced || event.type != :progress
        announced = true
        puts "under way"
      end
    RUBY
    Open3.popen3(child_env, *WowSpec.ruby_command, "-e", code) do |_in, out, err, wait|
      expect(out.gets).to eq("under way\n"), -> { err.read }
      sleep 0.2
      sent = WowSpec.monotonic
      Process.kill("INT", wait.pid)
      status = wait.value
      latency = WowSpec.monotonic - sent

      expect(status.termsig).to eq(Signal.list.fetch("INT")), -> { err.read }
      expect(latency).to be < 0.5
      warn format("  Ctrl-C to exit: %.1f ms", latency * 1000) if ENV["WOW_SPEC_VERBOSE"]
    end
    expect_clean
  end

  it "exits on SIGINT during a call without a block" do
    code = <<~RUBY
      require "wow/fetch"
      Wow::Fetcher.download_all(#{SLOW.inspect}, source: ENV["WOW_MIRROR_URL"], progress: false)
    RUBY
    Open3.popen3(child_env, *WowSpec.ruby_command, "-e", code) do |_in, _out, err, wait|
      deadline = WowSpec.monotonic + 30
      sleep 0.02 until Dir.glob(File.join(cache_dir, "**", ".*.part")).any? || WowSpec.monotonic > deadline
      sent = WowSpec.monotonic
      Process.kill("INT", wait.pid)
      status = wait.value

      expect(status.termsig).to eq(Signal.list.fetch("INT")), -> { err.read }
      expect(WowSpec.monotonic - sent).to be < 0.5
    end
    expect_clean
  end

  it "propagates an exception raised by the block unchanged, after cancelling" do
    boom = Class.new(StandardError).new("from the block")
    raised_at = nil
    expect do
      fetch(SLOW, dest: dest) do |event|
        next unless event.type == :progress

        raised_at = WowSpec.monotonic
        raise boom
      end
    end.to raise_error { |error| expect(error).to equal(boom) }
    expect(WowSpec.monotonic - raised_at).to be < 0.2
    expect_clean
  end

  it "returns the value of break from the block, after cancelling" do
    value = fetch(SLOW, dest: dest) { |event| break :stopped if event.type == :progress }
    expect(value).to eq(:stopped)
    expect_clean
  end

  it "cancels on Thread#raise" do
    thread = slow_download_thread
    sent = WowSpec.monotonic
    thread.raise(IOError, "stop")

    expect { thread.join }.to raise_error(IOError, "stop")
    expect(WowSpec.monotonic - sent).to be < 0.2
    expect_clean
  end

  it "cancels on Thread#kill" do
    thread = slow_download_thread
    sent = WowSpec.monotonic
    thread.kill

    expect(thread.join(2)).to equal(thread)
    expect(WowSpec.monotonic - sent).to be < 0.2
    expect(thread.status).to be(false)
    expect_clean
  end

  it "cancels on Timeout.timeout" do
    require "timeout"
    started = WowSpec.monotonic
    expect { Timeout.timeout(0.5) { fetch(SLOW, dest: dest) } }.to raise_error(Timeout::Error)
    expect(WowSpec.monotonic - started).to be < 0.7
    expect_clean
  end

  it "keeps downloading through a signal whose handler does not raise" do
    # Ruby calls the unblock function for any interrupt; it only wakes the wait, and the run
    # is cancelled only when Ruby then raises.
    throttle("concurrent-ruby-1.2.3", 1_000_000)
    handled = false
    previous = trap("USR1") { handled = true }
    # From another process: a signal a process sends itself is handled without the unblock call.
    Process.detach(Process.spawn("sleep 0.3; kill -USR1 #{Process.pid}"))
    result, = fetch(["concurrent-ruby-1.2.3"], raise_on_failure: false)

    expect(handled).to be(true)
    expect(result.error).to be_nil
  ensure
    trap("USR1", previous || "DEFAULT")
  end
end
