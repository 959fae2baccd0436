# frozen_string_literal: true

require "base64"
require "json"
require "tmpdir"
require_relative "mirror_helper"

# Credentials reach the server they are for and are shown nowhere (issue 15). The mirror demands
# Basic or Bearer authentication (`wow-mirror serve --auth`) and records every request's headers
# (GET /_requests).
RSpec.describe "credentials against an authenticating mirror" do
  let(:password) { "pw-9x" }

  before(:all) do
    reason = WowIntegration.missing
    skip(reason) if reason
    @basic = WowIntegration::Mirror.start(args: ["--auth", "basic:alice:pw-9x"])
    @bearer = WowIntegration::Mirror.start(args: ["--auth", "bearer:tok-123"])
  end

  after(:all) do
    @basic&.stop
    @bearer&.stop
  end

  around do |example|
    Dir.mktmpdir("wow-credentials") do |dir|
      @cache = dir
      example.run
    end
  end

  def fetch(mirror, source, **options)
    Wow::Fetcher.download_all(["rack-3.0.9"], source: source, cache_dir: @cache, ca_file: mirror.ca_file,
                                              progress: false, **options)
  end

  def header(request, name)
    request.fetch("headers").find { |n, _| n == name }&.last
  end

  it "sends URL userinfo as Basic authentication" do
    @basic.reset_stats
    result, = fetch(@basic, @basic.url.sub("https://", "https://alice:#{password}@"))

    expect(result).to be_ok
    seen = @basic.requests_seen
    expect(seen).not_to be_empty
    expect(seen.map { |r| header(r, "authorization") }).to all(eq("Basic #{Base64.strict_encode64("alice:#{password}")}"))
  end

  it "sends headers: as given" do
    @bearer.reset_stats
    result, = fetch(@bearer, @bearer.url, headers: { "Authorization" => "Bearer tok-123", "X-Secret" => "hush" })

    expect(result).to be_ok
    seen = @bearer.requests_seen
    expect(seen).not_to be_empty
    expect(seen.map { |r| [header(r, "authorization"), header(r, "x-secret")] }).to all(eq(["Bearer tok-123", "hush"]))
  end

  it "reports a 401 as HTTPError, with the password in no message or inspect" do
    result, = fetch(@basic, @basic.url.sub("https://", "https://alice:wr0ng@"), raise_on_failure: false)

    expect(result.error).to be_a(Wow::Fetcher::HTTPError)
    expect(result.error.status).to eq(401)
    expect(result.error.message).to eq("HTTP 401 from #{@basic.url.sub("https://", "https://alice:***@")}/gems/rack-3.0.9.gem")
    expect(result.attempts).to eq(1)
    shown = [result.error.message, result.error.inspect, result.inspect, result.url, result.error.url].join("\n")
    expect(shown).not_to include("wr0ng")

    expect { fetch(@basic, @basic.url.sub("https://", "https://alice:wr0ng@")) }.to raise_error(Wow::Fetcher::DownloadError) { |e|
      expect([e.message, e.inspect]).to all(satisfy { |text| !text.include?("wr0ng") })
    }
  end

  it "follows a redirect to another host without headers: or the URL's credentials" do
    WowIntegration::Mirror.start do |elsewhere|
      away = { path: { exact: "/away/rack-3.0.9.gem" },
               fault: { redirect: { status: 302, location: "#{elsewhere.url}/gems/rack-3.0.9.gem" } } }
      WowIntegration::Mirror.start(args: ["--auth", "basic:alice:#{password}", "--fault", JSON.generate(away)]) do |home|
        bundle = File.join(@cache, "both-cas.pem")
        File.write(bundle, File.read(home.ca_file) + File.read(elsewhere.ca_file))
        item = { name: "rack", version: "3.0.9",
                 url: "#{home.url.sub("https://", "https://alice:#{password}@")}/away/rack-3.0.9.gem" }

        result, = Wow::Fetcher.download_all([item], cache_dir: @cache, ca_file: bundle, progress: false,
                                                    headers: { "X-Secret" => "hush" })

        expect(result).to be_ok
        expect(home.requests_seen.map { |r| [header(r, "x-secret"), header(r, "authorization")&.split&.first] })
          .to eq([%w[hush Basic]])
        there = elsewhere.requests_seen
        expect(there).not_to be_empty
        expect(there.map { |r| [header(r, "x-secret"), header(r, "authorization")] }).to all(eq([nil, nil]))
        expect(there.to_s).not_to include(password)
      end
    end
  end
end
