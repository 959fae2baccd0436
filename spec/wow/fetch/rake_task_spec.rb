# frozen_string_literal: true

require "open3"
require "rake"
require "rbconfig"
require "stringio"
require "tmpdir"
require "wow/fetch/rake_task"

# The task's definition and what it hands to download_all, over a stand-in fetcher; a real run
# from a Rakefile is in spec/integration/rake_task_spec.rb.
RSpec.describe Wow::Fetch::RakeTask do
  around do |example|
    previous = Rake.application
    Rake.application = Rake::Application.new
    recording = Rake::TaskManager.record_task_metadata
    Rake::TaskManager.record_task_metadata = true # as `rake -T` sets it
    Dir.mktmpdir("wow-rake") do |dir|
      @dir = dir
      Dir.chdir(dir) { example.run }
    end
  ensure
    Rake.application = previous
    Rake::TaskManager.record_task_metadata = recording
  end

  let(:recorder) do
    Class.new do
      attr_reader :calls

      def initialize(fail_names = [])
        @fail_names = fail_names
        @calls = []
      end

      def download_all(items, **options)
        @calls << [items, options]
        items.map do |item|
          item = { name: item.split("-").first, version: item.split("-")[1] } if item.is_a?(String)
          failed = @fail_names.include?(item[:name])
          Struct.new(:full_name, :ok?, :error).new("#{item[:name]}-#{item[:version]}", !failed, failed ? RuntimeError.new("HTTP 404") : nil)
        end
      end
    end
  end

  def write_lockfile(path = "Gemfile.lock")
    File.write(path, <<~LOCK)
      GEM
        remote: https://gems.example.test/
        specs:
          rack (3.0.8)
          rake (13.1.0)
    LOCK
  end

  it "defines :prefetch with a description, so `rake -T` lists it" do
    described_class.new(:prefetch) do |t|
      t.lockfile = "Gemfile.lock"
      t.dest = "vendor/cache"
    end
    task = Rake::Task[:prefetch]
    expect(task.comment).to eq("Prefetch the gems of Gemfile.lock into vendor/cache, in parallel")
  end

  it "takes a custom name and description" do
    described_class.new(:gems) { |t| t.description = "Warm the gem cache" }
    expect(Rake::Task[:gems].comment).to eq("Warm the gem cache")
  end

  it "passes the lockfile's items and the options that are set" do
    write_lockfile
    fetcher = recorder.new
    task = described_class.new(:prefetch) do |t|
      t.lockfile = "Gemfile.lock"
      t.dest = "vendor/cache"
      t.concurrency = 8
      t.cache_dir = "/tmp/wow-cache"
      t.source = "https://other.test"
      t.gems = ["extra-1.0.0"]
      t.fetcher = fetcher
    end
    expect { task.run }.to output(/\APrepared 3 packages in \d+\.\d\ds\n✓ rack-3\.0\.8\.gem\n/).to_stdout
    items, options = fetcher.calls.last
    expect(items).to eq([
      { name: "rack", version: "3.0.8", platform: "ruby", source: "https://gems.example.test" },
      { name: "rake", version: "13.1.0", platform: "ruby", source: "https://gems.example.test" },
      "extra-1.0.0",
    ])
    expect(options).to eq(dest: "vendor/cache", cache_dir: "/tmp/wow-cache", concurrency: 8,
                          source: "https://other.test", progress: :auto, raise_on_failure: false)
  end

  it "reads Gemfile.lock by default" do
    write_lockfile
    fetcher = recorder.new
    task = described_class.new { |t| t.fetcher = fetcher }
    expect { Rake::Task[:prefetch].invoke }.to output(/Prepared 2 packages/).to_stdout
    expect(fetcher.calls.last.first.map { |i| i[:name] }).to eq(%w[rack rake])
    expect(task.name).to eq(:prefetch)
  end

  it "fails the task, naming each failure, when a package fails" do
    write_lockfile
    task = described_class.new { |t| t.fetcher = recorder.new(["rake"]) }
    expect { expect { task.run }.to raise_error(RuntimeError, "wow-fetch: 1 of 2 packages failed") }
      .to output(/✗ rake-13\.1\.0\.gem: HTTP 404/).to_stdout
  end

  it "does not load the extension to define the task" do
    lib = File.expand_path("../../../lib", __dir__)
    script = 'require "wow/fetch/rake_task"; Wow::Fetch::RakeTask.new; print $LOADED_FEATURES.grep(%r{wow/fetch/(?:\d+\.\d+/)?wow_fetch}).size'
    out, status = Open3.capture2(RbConfig.ruby, "-I", lib, "-e", script)
    expect([out, status.success?]).to eq(["0", true])
  end
end
