# frozen_string_literal: true

require "fileutils"
require "json"
require "net/http"
require "openssl"

# The wow-mirror child process (crates/mirror) that both spec helpers start: the unit-level
# `WowSpec::Mirror` (spec/support/mirror.rb) and the end-to-end `WowIntegration::Mirror`
# (spec/integration/mirror_helper.rb). `serve` runs it with a fresh CA and waits for its URL;
# the rest talks to its control endpoints over verified HTTPS.
module WowMirrorProcess
  attr_reader :url, :ca_file, :pid

  # Starts `binary serve --gems GEMS ARGS…` with its CA, ready file and log in `dir` (removed
  # by `stop`), and waits up to 60 s for it to answer.
  def serve(binary, gems, dir, args = [])
    @dir = dir
    @ca_file = File.join(dir, "ca.pem")
    ready = File.join(dir, "ready")
    log = File.join(dir, "mirror.log")
    @pid = Process.spawn(binary, "serve", "--gems", gems, "--ca-out", @ca_file, "--ready-file", ready, *args,
                         out: log, err: log)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 60
    until File.exist?(ready) && !File.read(ready).strip.empty?
      raise "wow-mirror exited:\n#{File.read(log)}" if Process.wait(@pid, Process::WNOHANG)

      if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
        output = File.read(log)
        stop
        raise "wow-mirror did not start in 60 s:\n#{output}"
      end
      sleep 0.02
    end
    @url = File.read(ready).strip.chomp("/")
  end

  def stats
    JSON.parse(request(Net::HTTP::Get.new("/_stats")).body)
  end

  def reset_stats
    request(Net::HTTP::Post.new("/_stats/reset"))
  end

  # Adds fault rules (see crates/mirror/src/faults.rs), e.g.
  #   add_faults(path: { exact: "/gems/rack-3.0.9.gem" }, fault: { bandwidth: 100_000 })
  def add_faults(*rules)
    post = Net::HTTP::Post.new("/_faults", "Content-Type" => "application/json")
    post.body = JSON.generate(rules)
    response = request(post)
    raise "fault rejected: #{response.body}" unless response.code == "204"
  end

  def clear_faults
    request(Net::HTTP::Delete.new("/_faults"))
  end

  # The latest requests (up to 1,000) as they arrived, each { "path" => …, "headers" =>
  # [[name, value], …] }, credentials included; cleared by reset_stats.
  def requests_seen
    JSON.parse(request(Net::HTTP::Get.new("/_requests")).body)
  end

  def stop
    return unless @pid

    Process.kill("TERM", @pid)
    Process.wait(@pid)
  rescue Errno::ESRCH, Errno::ECHILD
    nil
  ensure
    @pid = nil
    FileUtils.rm_rf(@dir)
  end

  private

  def request(req)
    uri = URI(url)
    http = Net::HTTP.new(uri.host, uri.port)
    http.use_ssl = true
    http.ca_file = ca_file
    http.verify_mode = OpenSSL::SSL::VERIFY_PEER
    http.start { |h| h.request(req) }
  end
end
