# frozen_string_literal: true

RSpec.describe Wow::Fetcher::Error do
  it "roots every wow-fetch error under StandardError" do
    expect(described_class.superclass).to eq(StandardError)
    [Wow::Fetcher::ChecksumMismatch, Wow::Fetcher::HTTPError, Wow::Fetcher::NetworkError,
     Wow::Fetcher::DownloadError, Wow::Fetcher::ResolveError, Wow::Fetcher::InternalError].each do |error|
      expect(error.superclass).to eq(described_class)
    end
  end

  it "carries the fields of each kind" do
    mismatch = Wow::Fetcher::ChecksumMismatch.new("m", expected: "a", actual: "b", url: "u")
    expect([mismatch.message, mismatch.expected, mismatch.actual, mismatch.url]).to eq(%w[m a b u])
    http = Wow::Fetcher::HTTPError.new("h", status: 503, url: "u")
    expect([http.status, http.url]).to eq([503, "u"])
    network = Wow::Fetcher::NetworkError.new("n", url: "u", reason: :tls)
    expect([network.url, network.reason]).to eq(["u", :tls])
  end

  describe Wow::Fetcher::DownloadError do
    def result(full_name, status, error = nil)
      Wow::Fetcher::Result.new(name: full_name, version: "1", platform: "ruby", full_name: full_name, url: "u",
                               status: status, error: error)
    end

    it "lists every failed item and why" do
      results = [result("a-1", :downloaded), result("b-1", :failed, Wow::Fetcher::Error.new("no space left")),
                 result("c-1", :cached), result("d-1", :failed, Wow::Fetcher::HTTPError.new("HTTP 404 from u"))]
      error = described_class.new(results)

      expect(error.message).to eq("2 of 4 gems failed:\n  b-1: no space left\n  d-1: HTTP 404 from u")
      expect(error.failures.map(&:full_name)).to eq(%w[b-1 d-1])
      expect(error.results).to eq(results)
      expect(error.results).to be_frozen
    end

    it "can be raised without results" do
      expect { raise described_class }.to raise_error(described_class, "0 of 0 gems failed:")
    end
  end
end
