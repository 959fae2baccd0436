# frozen_string_literal: true

# Credentials in a URL are sent to that host and shown nowhere: not in results, events,
# messages or inspect output (README.md, "What you can rely on": security).
RSpec.describe "credential redaction", mirror: true do
  SECRET = "s3cretPa55"

  def with_credentials(url, userinfo = "alice:#{SECRET}")
    url.sub("https://", "https://#{userinfo}@")
  end

  def shown(*objects)
    objects.flatten.map { |o| [o.inspect, (o.respond_to?(:to_h) ? o.to_h.inspect : ""), (o.respond_to?(:message) ? o.message : "")] }.join("\n")
  end

  it "masks the password in Result#url and everything printed" do
    events = []
    results = fetch(["rack-3.0.9", { name: "base64", version: "0.2.0", url: "#{with_credentials(mirror.url)}/gems/base64-0.2.0.gem" }],
                    source: with_credentials(mirror.url)) { |e| events << e }

    expect(results).to all(be_ok)
    expect(results.map(&:url)).to all(start_with(with_credentials(mirror.url, "alice:***")))
    expect(shown(results, events)).not_to include(SECRET)
  end

  it "masks a token used as the user name" do
    result, = fetch(["rack-3.0.9"], source: with_credentials(mirror.url, SECRET))
    expect(result.url).to eq("#{with_credentials(mirror.url, "***")}/gems/rack-3.0.9.gem")
  end

  it "keeps credentials out of failures and DownloadError" do
    events = []
    error = nil
    begin
      fetch(["missing-1.0"], source: with_credentials(mirror.url)) { |e| events << e }
    rescue Wow::Fetcher::DownloadError => e
      error = e
    end

    expect(error.failures.first.error).to be_a(Wow::Fetcher::HTTPError)
    expect(shown(error, error.results, error.failures.map(&:error), events, events.map(&:error).compact)).not_to include(SECRET)
  end

  it "keeps credentials out of network errors and of ArgumentError" do
    result, = fetch(["rack-3.0.9"], source: "https://alice:#{SECRET}@127.0.0.1:1", retries: 0, raise_on_failure: false)
    expect(shown(result, result.error)).not_to include(SECRET)

    message = begin
      fetch([{ name: "rack", version: "1.0", url: "gopher://alice:#{SECRET}@example.test/x.gem" }])
    rescue ArgumentError => e
      e.message
    end
    expect(message).to start_with("gems[0]: invalid URL")
    expect(message).not_to include(SECRET)
  end
end
