# frozen_string_literal: true

# Bad input is an ArgumentError with an exact message, raised before any network traffic
# (README.md, "Options": bad input is an ArgumentError). Options are read in
# ext/src/ruby_api/options.rs and checked by crates/core/src/settings.rs; items are converted in
# ext/src/ruby_api/items.rs.
RSpec.describe "Wow::Fetcher input validation", mirror: true do
  def refusal(gems, **options)
    fetch(gems, **options)
    raise "expected an ArgumentError"
  rescue ArgumentError => e
    e.message
  end

  {
    { nope: 1 } => "unknown option: :nope",
    { "nope" => 1 } => 'unknown option: "nope"',
    { concurrency: 0 } => "concurrency must be a positive Integer (got 0)",
    { concurrency: -2 } => "concurrency must be a positive Integer (got -2)",
    { concurrency: "4" } => 'concurrency must be a positive Integer (got "4")',
    { concurrency: 2.5 } => "concurrency must be a positive Integer (got 2.5)",
    { per_host: 0 } => "per_host must be a positive Integer (got 0)",
    { retries: -1 } => "retries must be a non-negative Integer (got -1)",
    { connect_timeout: 0 } => "connect_timeout must be a positive number of seconds (got 0)",
    { read_timeout: "30" } => 'read_timeout must be a positive number of seconds (got "30")',
    { progress_interval: -0.5 } => "progress_interval must be a non-negative number of seconds (got -0.5)",
    { raise_on_failure: "yes" } => 'raise_on_failure must be true or false (got "yes")',
    { http1_only: 1 } => "http1_only must be true or false (got 1)",
    { progress: :fancy } => "progress must be :auto, :bar, :plain or false (got :fancy)",
    { progress: true } => "progress must be :auto, :bar, :plain or false (got true)",
    { dest: 42 } => "dest must be a String or Pathname (got 42)",
    { cache_dir: "" } => 'cache_dir must be a non-empty path without NUL (got "")',
    { source: "ftp://example.test" } =>
      'source: invalid URL ftp://example.test/: unsupported scheme "ftp" (use https or http)',
    { source: 42 } => "source must be a String or URI (got 42)",
    { headers: [] } => "headers must be a Hash (got [])",
    { headers: { "X-Count" => 1 } } => 'headers: the value of "X-Count" must be a String (got a Integer)',
    { headers: { "Bad Name" => "v" } } => 'invalid option headers: "Bad Name": not a header name'
  }.each do |options, message|
    it "refuses #{options.inspect}" do
      expect(refusal(["rack-3.0.9"], **options)).to eq(message)
    end
  end

  it "validates options given to new" do
    expect { Wow::Fetcher.new(nope: 1) }.to raise_error(ArgumentError, "unknown option: :nope")
    expect { Wow::Fetcher.new(concurrency: 0) }.to raise_error(ArgumentError, "concurrency must be a positive Integer (got 0)")
  end

  it "never shows a header value, which may be a secret" do
    message = refusal(["rack-3.0.9"], headers: { "Authorization" => "Bearer s3cret\nX: y" })
    expect(message).to eq('invalid option headers: "Authorization": value is not visible ASCII')
  end

  {
    [{ name: "a/b", version: "1.0" }] => %(gems[0]: invalid name "a/b": must not contain '/', '\\' or NUL),
    [{ name: "a\\b", version: "1.0" }] => %(gems[0]: invalid name "a\\\\b": must not contain '/', '\\' or NUL),
    [{ name: "a\0b", version: "1.0" }] => %(gems[0]: invalid name "a\\0b": must not contain '/', '\\' or NUL),
    [{ name: "a..b", version: "1.0" }] => %(gems[0]: invalid name "a..b": must not contain '..'),
    [{ name: ".hidden", version: "1.0" }] => %(gems[0]: invalid name ".hidden": must not start with '.'),
    [{ name: "rack", version: "x1" }] => %(gems[0]: invalid version "x1": must start with a digit),
    [{ name: "rack", version: "1.0", platform: "../x" }] =>
      %(gems[0]: invalid platform "../x": must not contain '/', '\\' or NUL),
    [{ name: "rack", version: "1.0", sha256: "abc" }] =>
      %(gems[0]: invalid sha256 "abc": expected 64 hexadecimal characters),
    [{ name: "rack", version: "1.0", sha256: "g" * 64 }] =>
      %(gems[0]: invalid sha256 "#{"g" * 64}": expected 64 hexadecimal characters),
    [{ name: "rack", version: "1.0", url: "ftp://example.test/rack.gem" }] =>
      %(gems[0]: invalid URL ftp://example.test/rack.gem: unsupported scheme "ftp" (use https or http)),
    [{ name: "rack", version: "1.0", url: "file:///etc/passwd" }] =>
      %(gems[0]: invalid URL file:///etc/passwd: unsupported scheme "file" (use https or http)),
    [{ name: "rack" }] => "gems[0]: version is required",
    [{ version: "1.0" }] => "gems[0]: name is required",
    [{ name: "rack", version: "1.0", sha: "x" }] => "gems[0]: unknown key :sha",
    [{ name: "rack", version: 1 }] => "gems[0]: version must be a String (got 1)",
    ["rack-3.0.9", "rack"] => %(gems[1]: cannot parse "rack" as name-version[-platform]),
    [42] => %(gems[0]: expected a Hash, a "name-version[-platform]" String or an object responding to name and ) +
      "version (got 42)",
    "rack-3.0.9" => "gems must be an Array or another Enumerable of items (got String)",
    { name: "rack", version: "3.0.9" } => "gems must be a list of items (got a Hash; wrap a single item in an Array)"
  }.each do |gems, message|
    it "refuses #{gems.inspect}" do
      expect(refusal(gems)).to eq(message)
    end
  end

  it "refuses everything before any traffic, even when other items are fine" do
    mirror.reset_stats
    expect(refusal(["rack-3.0.9", { name: "..", version: "1" }])).to start_with("gems[1]: invalid name")
    expect(refusal(["rack-3.0.9"], concurrency: 0)).to start_with("concurrency")
    expect(refusal(["rack-3.0.9"], headers: { "Bad Name" => "v" })).to include("not a header name")
    expect(mirror.stats["requests"]).to eq(0)
    expect(Dir.exist?(cache_dir)).to be(false)
  end

  it "passes exceptions raised by the caller's objects through unchanged" do
    broken = Object.new
    def broken.name = "rack"
    def broken.version = raise(KeyError, "no version here")
    expect { fetch([broken]) }.to raise_error(KeyError, "no version here")
  end
end
