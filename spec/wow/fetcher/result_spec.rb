# frozen_string_literal: true

RSpec.describe Wow::Fetcher::Result do
  def result(**fields)
    described_class.new(name: "rack", version: "3.0.9", platform: "ruby", full_name: "rack-3.0.9",
                        url: "https://u:***@gems.test/gems/rack-3.0.9.gem", status: :downloaded,
                        path: "/c/rack-3.0.9.gem", sha256: "ab" * 32, bytes: 157_696, attempts: 1, elapsed: 0.25,
                        **fields)
  end

  it "is ok unless failed" do
    expect(result).to be_ok
    expect(result(status: :cached)).to be_ok
    expect(result(status: :failed, path: nil)).not_to be_ok
  end

  it "is frozen" do
    expect(result).to be_frozen
  end

  it "inspects compactly" do
    expect(result.inspect).to eq('#<Wow::Fetcher::Result rack-3.0.9 downloaded 157696 bytes, path="/c/rack-3.0.9.gem" in 0.250s>')
    failed = result(status: :failed, path: nil, error: Wow::Fetcher::HTTPError.new("HTTP 404 from x", status: 404))
    expect(failed.inspect).to eq('#<Wow::Fetcher::Result rack-3.0.9 failed "HTTP 404 from x" in 0.250s>')
  end

  it "converts to a Hash with the error as its message" do
    failed = result(status: :failed, error: Wow::Fetcher::Error.new("boom"))
    expect(failed.to_h).to include(full_name: "rack-3.0.9", status: :failed, error: "boom", bytes: 157_696)
  end
end
