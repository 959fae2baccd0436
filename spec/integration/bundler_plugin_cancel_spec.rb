# frozen_string_literal: true

require "wow/fetch/bundler_plugin"

# When Bundler has installed everything, the plugin's after-install-all ends the prefetch of gems
# Bundler never waited for. That must stop the real downloads inside the extension (the thread
# is killed while download_all has released the GVL), promptly and without leftovers.
RSpec.describe "Bundler plugin: cancelling the prefetch", mirror: true do
  it "cancels transfers still in flight through the extension, leaving no temp files" do
    slow_gems = %w[nokogiri-1.16.2-x86_64-linux sqlite3-1.7.2-x86_64-linux]
    slow_gems.each { |name| throttle(name, 20_000) } # each would take minutes
    dest = File.join(tmp, "bundle-cache")
    entries = slow_gems.map do |full_name|
      name, version, platform = full_name.match(/\A(.+?)-(\d[^-]*)-(.+)\z/).captures
      Wow::Fetch::BundlerCache::Entry.new(
        spec: Struct.new(:full_name).new(full_name),
        item: { name: name, version: version, platform: platform, url: "#{mirror.url}/gems/#{full_name}.gem" },
        dir: dest
      )
    end
    under_way = Queue.new
    cache = Wow::Fetch::BundlerCache.new(nil)
    observe = cache.method(:prefetch)
    allow(cache).to receive(:prefetch) do |list, **options, &block|
      observe.call(list, **options, cache_dir: cache_dir) do |event|
        under_way << true if event.type == :progress
        block.call(event)
      end
    end
    prefetch = Wow::Fetch::BundlerPlugin::Prefetch.new(cache, entries, progress: false).start
    under_way.pop

    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    expect(prefetch.finish(0.1)).to be_nil
    expect(Process.clock_gettime(Process::CLOCK_MONOTONIC) - started).to be < 1
    expect(prefetch.wait_for(slow_gems.first)).to be(true) # released, not hanging
    expect(leftovers(tmp)).to be_empty
    expect(Dir.glob(File.join(dest, "*.gem"))).to be_empty
  end
end
