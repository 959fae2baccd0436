# frozen_string_literal: true

# Wow::Fetcher.resolve and download_all(..., resolve: true) against the mirror's compact index
# (the demo set: rack 3.0.9 and 2.2.8, rack-test needs rack >= 1.3, rack-session rack >= 3).
RSpec.describe Wow::Fetcher, ".resolve", mirror: true do
  def resolve(requirements, **options)
    Wow::Fetcher.resolve(requirements, source: mirror.url, cache_dir: cache_dir, **options)
  end

  it "returns the newest versions with their dependencies, each with the index's SHA-256" do
    items = resolve(["rack-test"])

    expect(items.map { |item| item.values_at(:name, :version, :platform) }).to eq(
      [%w[rack-test 2.1.0 ruby], %w[rack 3.0.9 ruby]]
    )
    expect(items.first[:sha256]).to eq(mirror.fixture("rack-test-2.1.0").sha256)
    expect(items.map { |item| item[:source] }).to all(eq(mirror.url))
  end

  it "honours requirements and backtracks where they conflict with the newest choice" do
    items = resolve(["rack-test", "rack < 3"])

    expect(items.map { |item| item.values_at(:name, :version) }).to eq([%w[rack-test 2.1.0], %w[rack 2.2.8]])
  end

  it "explains a conflict with a ResolveError" do
    expect { resolve(["rack-session", "rack < 3"]) }.to raise_error(Wow::Fetcher::ResolveError) { |error|
      expect(error.message).to include("rack-session", "rack < 3")
    }
  end

  it "refuses a malformed requirement before any traffic" do
    mirror.reset_stats
    expect { resolve(["rack:<<3"]) }.to raise_error(ArgumentError, /\Agems\[0\]: /)
    expect { resolve([:rack]) }.to raise_error(ArgumentError, /\Agems\[0\]: expected a String/)
    expect(mirror.stats["requests"]).to eq(0)
  end

  it "resolves and downloads in one call with resolve: true" do
    results = fetch(["rack-test"], resolve: true)

    expect(results.map(&:full_name)).to eq(%w[rack-test-2.1.0 rack-3.0.9])
    expect(results).to all(be_ok)
    expect(Digest::SHA256.file(results.last.path).hexdigest).to eq(mirror.fixture("rack-3.0.9").sha256)
  end

  # Issue 15: resolve used the instance's pool whatever the call said.
  it "applies this call's client options (ca_file:, http1_only:) to the index requests" do
    ENV.delete("SSL_CERT_FILE") # restored before the next example
    fetcher = Wow::Fetcher.new(cache_dir: cache_dir)
    expect { fetcher.resolve(["rack-test"], source: mirror.url) }.to raise_error(Wow::Fetcher::NetworkError, /TLS/)

    mirror.reset_stats
    items = fetcher.resolve(["rack-test"], source: mirror.url, ca_file: mirror.ca_file, http1_only: true)

    expect(items.map { |item| item[:name] }).to eq(%w[rack-test rack])
    expect(mirror.stats).to include("h2_connections" => 0)
    expect(mirror.stats["http1_connections"]).to be_positive
  end
end
