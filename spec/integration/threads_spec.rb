# frozen_string_literal: true

# Several Ruby threads may call download_all at once, on one instance or several, sharing the
# cache safely; so may several processes (README.md, "What you can rely on": threads, the cache).
RSpec.describe "concurrent calls", mirror: true do
  SETS = [%w[actionpack-7.1.3 actionview-7.1.3 activejob-7.1.3], %w[bigdecimal-3.1.6 builder-3.2.4 crass-1.0.6],
          %w[actionpack-7.1.3 bigdecimal-3.1.6 minitest-5.22.2]].freeze

  it "serves several threads calling one instance at once" do
    fetcher = Wow::Fetcher.new(source: mirror.url, cache_dir: cache_dir, progress: false)
    events = Hash.new { |h, k| h[k] = [] }
    results = SETS.map do |set|
      Thread.new { fetcher.download_all(set) { |e| events[Thread.current] << e } }
    end.map(&:value)

    results.zip(SETS).each do |got, set|
      expect(got.map(&:full_name)).to eq(set)
      expect(got.map(&:sha256)).to eq(set.map { |name| mirror.fixture(name).sha256 })
    end
    expect(events.values.map { |list| list.count(&:terminal?) }).to eq([3, 3, 3])
  end

  it "serves threads using the shared default instance and separate ones" do
    results = SETS.each_with_index.map do |set, i|
      Thread.new do
        next fetch(set) if i.zero?

        Wow::Fetcher.new.download_all(set, source: mirror.url, cache_dir: cache_dir, progress: false)
      end
    end.map(&:value)
    expect(results.flatten).to all(be_ok)
  end

  it "shares one cache between processes without torn files" do
    names = %w[concurrent-ruby-1.2.3 nokogiri-1.16.2 activerecord-7.1.3 rdoc-6.6.2]
    code = <<~RUBY
      require "wow/fetch"
      results = Wow::Fetcher.download_all(#{names.inspect}, source: ENV["WOW_MIRROR_URL"], progress: false)
      puts results.map(&:sha256).join(" ")
    RUBY
    children = Array.new(3) { Thread.new { run_child(code) } }.map(&:value)

    children.each do |out, err, status|
      expect(status).to be_success, err
      expect(out.split).to eq(names.map { |name| mirror.fixture(name).sha256 })
    end
    expect(leftovers(cache_dir)).to be_empty
  end
end
