# frozen_string_literal: true

# The events a block receives during a real run (README.md, "Events").
RSpec.describe "Wow::Fetcher events", mirror: true do
  it "gives every item one :started and exactly one terminal event, with consistent totals" do
    names = %w[activerecord-7.1.3 railties-7.1.3 crass-1.0.6]
    events = []
    fetch(names, progress_interval: 0) { |event| events << event }

    names.each do |name|
      own = events.select { |e| e.full_name == name }
      expect(own.first.type).to eq(:started)
      expect(own.count(&:terminal?)).to eq(1)
      expect(own.last.type).to eq(:finished)
      expect(own.last.bytes).to eq(mirror.fixture(name).size)
      expect(own.map(&:bytes)).to eq(own.map(&:bytes).sort)
      expect(own.map(&:attempt).uniq).to eq([1])
      expect(own.map(&:error).compact).to be_empty
      own.each { |e| expect(e.total).to eq(mirror.fixture(name).size) if e.type == :progress }
    end
    expect(events.map(&:count).uniq).to eq([3])
    expect(events.select(&:terminal?).map(&:done)).to eq([1, 2, 3])
    expect(events.map(&:bytes_done)).to eq(events.map(&:bytes_done).sort)
    total = names.sum { |name| mirror.fixture(name).size }
    expect([events.last.bytes_done, events.last.bytes_total]).to eq([total, total])
    expect(events).to all(be_frozen)
  end

  it "reports :failed with the error" do
    events = []
    fetch(["absent-1.0"], raise_on_failure: false) { |event| events << event }

    expect(events.map(&:type)).to eq(%i[started failed])
    expect(events.last.error).to be_a(Wow::Fetcher::HTTPError)
    expect(events.last.done).to eq(1)
  end

  it "runs the block on the calling thread" do
    threads = []
    fetch(["rack-session-2.0.0"]) { threads << Thread.current }
    expect(threads.uniq).to eq([Thread.current])
  end

  it "coalesces :progress to at most one per progress_interval per item" do
    throttle("rdoc-6.6.2", 300_000)
    times = []
    started = WowSpec.monotonic
    fetch(["rdoc-6.6.2"], progress_interval: 0.25) { |e| times << WowSpec.monotonic if e.type == :progress }
    elapsed = WowSpec.monotonic - started

    expect(elapsed).to be > 1.5
    expect(times.size).to be >= 3
    expect(times.size).to be <= (elapsed / 0.25).ceil + 1
  end

  it "prints nothing with a block unless asked" do
    expect { fetch(["base64-0.2.0"], progress: :auto) { nil } }.not_to output.to_stderr
  end

  it "prints one line per finished item to $stderr with progress: :plain" do
    fetch(["stringio-3.1.0"])
    # Lines come in the order items finish. The download is slowed to a quarter second, so the
    # cached item, verified from disk meanwhile, finishes first on any machine: unthrottled, a
    # loaded CI machine once finished the 14 KiB download before the cache check.
    throttle("timeout-0.4.1", 56_000)
    expect { fetch(%w[stringio-3.1.0 timeout-0.4.1], progress: :plain) }
      .to output("✓ stringio-3.1.0.gem (20.00 KiB, cached)\n✓ timeout-0.4.1.gem (14.00 KiB)\n").to_stderr
  end

  it "prints failures with progress: :plain too" do
    expect { fetch(["gone-1.0"], progress: :plain, raise_on_failure: false) }
      .to output("✗ gone-1.0.gem: HTTP 404 from #{mirror.url}/gems/gone-1.0.gem\n").to_stderr
  end
end
