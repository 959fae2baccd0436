# frozen_string_literal: true

require "wow/fetch/bundler_plugin"

# The hooks' promises, over a stand-in cache: never break `bundle install`, warn once, let each
# gem's install wait only for that gem, say what was done. The hooks against a real Bundler and
# mirror are in spec/integration/bundler_plugin_spec.rb.
RSpec.describe Wow::Fetch::BundlerPlugin do
  let(:ui) do
    Class.new do
      attr_reader :infos, :warnings

      def initialize
        @infos = []
        @warnings = []
      end

      def info(message) = @infos << message
      def warn(message) = @warnings << message
      def debug(_message) = nil
    end.new
  end

  result = Struct.new(:full_name, :ok?, :error)
  event = Struct.new(:type, :full_name)
  installation = Struct.new(:full_name)

  # A BundlerCache whose prefetch yields each gem's terminal event when the spec releases it.
  let(:cache_class) do
    Class.new do
      attr_reader :options, :gate

      def initialize(names, event_class, result_class, failing: [], raising: nil)
        @names = names
        @event_class = event_class
        @result_class = result_class
        @failing = failing
        @raising = raising
        @gate = Queue.new
      end

      def entries
        @names.map { |name| Struct.new(:spec).new(Struct.new(:full_name).new(name)) }
      end

      def prefetch(list, **options)
        @options = options
        raise @raising if @raising

        results = list.map do |entry|
          name = @gate.pop
          failed = @failing.include?(name)
          yield @event_class.new(failed ? :failed : :finished, name)
          @result_class.new(name, !failed, failed ? RuntimeError.new("HTTP 404") : nil)
        end
        Wow::Fetch::Report.new(results.sort_by(&:full_name), 0.25)
      end
    end
  end

  before { described_class.instance_variable_set(:@warned, nil) }
  after { described_class.instance_variable_set(:@prefetch, nil) }

  def start(cache, env: {}, argv: [])
    allow(Wow::Fetch::BundlerCache).to receive(:new).and_return(cache)
    described_class.before_install_all(:definition, ui: ui, env: env, argv: argv)
  end

  it "lets each gem's install wait for that gem only, then reports" do
    cache = cache_class.new(%w[a-1.0 b-2.0], event, result)
    start(cache)
    waiting = Thread.new { described_class.before_install(installation.new("b-2.0")) }
    expect(described_class.before_install(installation.new("not-ours-1.0"))).to be_nil
    cache.gate << "a-1.0"
    sleep 0.1
    expect(waiting).to be_alive
    cache.gate << "b-2.0"
    expect(waiting.join(2)).to be_truthy
    described_class.after_install_all(ui: ui)
    expect(ui.infos).to eq(["wow-fetch: prepared 2 packages in 0.25s"])
    expect(ui.warnings).to eq([])
    expect(cache.options).to eq(progress: false)
  end

  it "lists what it could not fetch, once, after Bundler fetched it itself" do
    cache = cache_class.new(%w[a-1.0 nope-1.0], event, result, failing: ["nope-1.0"])
    start(cache)
    cache.gate << "a-1.0" << "nope-1.0"
    described_class.before_install(installation.new("nope-1.0"))
    described_class.after_install_all(ui: ui)
    expect(ui.warnings).to eq(["wow-fetch: 1 of 2 packages failed; Bundler downloaded them itself:\n" \
                               "  ✗ nope-1.0.gem: HTTP 404"])
  end

  it "releases every waiting install when the prefetch itself fails, and warns once" do
    cache = cache_class.new(%w[a-1.0], event, result, raising: LoadError.new("cannot load such file -- wow/fetch/wow_fetch"))
    start(cache)
    expect(Thread.new { described_class.before_install(installation.new("a-1.0")) }.join(2)).to be_truthy
    described_class.after_install_all(ui: ui)
    described_class.after_install_all(ui: ui)
    expect(ui.warnings).to eq(["wow-fetch: prefetch skipped (LoadError: cannot load such file -- wow/fetch/wow_fetch); " \
                               "Bundler downloads the gems itself"])
  end

  it "never lets a failure escape a hook" do
    allow(Wow::Fetch::BundlerCache).to receive(:new).and_raise(NoMethodError, "undefined method `locked_gems'")
    expect(described_class.before_install_all(:definition, ui: ui, env: {}, argv: [])).to be_nil
    expect(described_class.before_install(:not_an_installation)).to be_nil
    expect(described_class.after_install_all(ui: ui)).to be_nil
    expect(ui.warnings.size).to eq(1)
  end

  it "lets Ctrl-C through" do
    allow(Wow::Fetch::BundlerCache).to receive(:new).and_raise(Interrupt)
    expect { described_class.before_install_all(:definition, ui: ui, env: {}, argv: []) }.to raise_error(Interrupt)
  end

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  it "stops waiting for a prefetch that shows no sign of life, and warns once" do
    cache = cache_class.new(%w[a-1.0 b-1.0], event, result)
    start(cache, env: { "WOW_FETCH_PLUGIN_WAIT" => "0.3" })
    started = monotonic
    waits = %w[a-1.0 b-1.0].map { |name| Thread.new { described_class.before_install(installation.new(name), ui: ui) } }
    expect(waits.map { |thread| thread.join(5) }).to all(be_truthy)
    expect(monotonic - started).to be_between(0.3, 2)
    expect(ui.warnings).to eq(["wow-fetch: no progress for 0.3s; Bundler downloads the remaining gems itself"])
    cache.gate << "a-1.0" << "b-1.0"
    described_class.after_install_all(ui: ui)
  end

  it "keeps waiting as long as the prefetch makes progress" do
    cache = cache_class.new(%w[a-1.0], event, result)
    start(cache, env: { "WOW_FETCH_PLUGIN_WAIT" => "0.3" })
    prefetch = described_class.instance_variable_get(:@prefetch)
    ticker = Thread.new do
      8.times do
        sleep 0.1
        prefetch.send(:observe, event.new(:progress, "a-1.0"))
      end
      cache.gate << "a-1.0"
    end
    started = monotonic
    expect(prefetch.wait_for("a-1.0")).to be(true)
    expect(monotonic - started).to be >= 0.75
    ticker.join
    described_class.after_install_all(ui: ui)
    expect(ui.warnings).to eq([])
  end

  it "is off with WOW_FETCH_PLUGIN=0 and for `bundle install --local`, and idle with nothing to fetch" do
    expect(Wow::Fetch::BundlerCache).not_to receive(:new)
    expect(described_class.before_install_all(:definition, ui: ui, env: { "WOW_FETCH_PLUGIN" => "0" }, argv: [])).to be_nil
    expect(described_class.before_install_all(:definition, ui: ui, env: {}, argv: ["install", "--local"])).to be_nil
    expect(described_class.after_install_all(ui: ui)).to be_nil
    expect(ui.infos + ui.warnings).to eq([])
  end

  it "says nothing when there is nothing to fetch" do
    start(cache_class.new([], event, result))
    expect(described_class.after_install_all(ui: ui)).to be_nil
    expect(ui.infos + ui.warnings).to eq([])
  end
end
