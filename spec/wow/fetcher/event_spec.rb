# frozen_string_literal: true

RSpec.describe Wow::Fetcher::Event do
  def event(type, **fields)
    described_class.new(type: type, full_name: "rack-3.0.9", bytes: 10, total: 20, attempt: 1, done: 0, count: 2,
                        bytes_done: 10, bytes_total: 40, **fields)
  end

  it "knows its terminal types" do
    expect(Wow::Fetcher::Event::TYPES.select { |type| event(type).terminal? }).to eq(%i[finished cached failed])
  end

  it "inspects compactly, with the error's message" do
    expect(event(:progress).inspect).to eq("#<Wow::Fetcher::Event progress rack-3.0.9 10/20 bytes, 0/2 done>")
    failed = event(:failed, total: nil, error: Wow::Fetcher::Error.new("boom"))
    expect(failed.inspect).to eq('#<Wow::Fetcher::Event failed rack-3.0.9 10 bytes, 0/2 done "boom">')
  end

  it "converts to a Hash" do
    expect(event(:started).to_h).to eq(type: :started, full_name: "rack-3.0.9", bytes: 10, total: 20, attempt: 1,
                                       error: nil, done: 0, count: 2, bytes_done: 10, bytes_total: 40)
  end
end
