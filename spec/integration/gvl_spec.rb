# frozen_string_literal: true

# The GVL is released for the whole transfer: another Ruby thread keeps running at full speed.
RSpec.describe "GVL release", mirror: true do
  # Increments per second of a busy Ruby thread over `seconds`, while the block runs.
  def counter_rate(seconds = nil)
    count = 0
    counter = Thread.new { loop { count += 1 } }
    started = WowSpec.monotonic
    seconds ? sleep(seconds) : yield
    elapsed = WowSpec.monotonic - started
    counter.kill.join
    count / elapsed
  end

  it "lets other Ruby threads run during a slow download" do
    throttle("activerecord-7.1.3", 400_000)
    baseline = counter_rate(0.5)
    result = nil
    during = counter_rate { result, = fetch(["activerecord-7.1.3"]) }

    expect(result).to be_ok
    expect(during).to be > baseline * 0.5
  end
end
