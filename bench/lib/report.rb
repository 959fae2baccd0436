# frozen_string_literal: true

# Turns bench results (latest.json) into the Markdown table and the SVG chart, with no
# dependency beyond Ruby's standard library.
#
# usage: ruby bench/lib/report.rb bench/results/latest.json   (rewrites latest.md and .svg)

require "json"

module WowBench
  module Report
    module_function

    def median(values)
      return nil if values.empty?

      s = values.sort
      s.size.odd? ? s[s.size / 2] : (s[s.size / 2 - 1] + s[s.size / 2]) / 2.0
    end

    # Per tool and case: over the runs that completed and verified.
    def summary(runs, limit, bytes)
      ok = runs.select { |r| r["ok"] }
      walls = ok.map { |r| r["wall"] }
      cpu = ok.map { |r| r["cpu_user"].to_f + r["cpu_sys"].to_f }
      med = median(walls)
      {
        "runs_ok" => ok.size, "runs_total" => runs.size,
        "median_s" => med, "min_s" => walls.min, "ratio" => med && med / limit,
        "connections" => median(ok.map { |r| r["syns"] }.compact),
        "peak_rss_mb" => ok.map { |r| r["rss_kb"].to_i }.max&./(1024.0),
        "cpu_s" => median(cpu), "cpu_s_per_gb" => (c = median(cpu)) && c / (bytes / 1e9),
        "drops" => median(ok.map { |r| r["s2c_drops"].to_i + r["c2s_drops"].to_i }),
      }
    end

    def f(value, digits = 2)
      value.nil? ? "–" : format("%.#{digits}f", value)
    end

    def markdown(results)
      m = results["machine"]
      out = []
      out << "# wow-fetch benchmark"
      out << ""
      out << "Run #{results["started"]} – #{results["finished"]} by `bench/run`. Cold runs: empty destination, " \
             "HOME, gem, Bundler and wow-fetch caches every time. Times are wall clock from spawn to exit; " \
             "peak RSS from wait4; connections are TCP SYNs counted by the emulator; the limit is total bytes " \
             "÷ rate + 3 RTT (connect, TLS 1.3, request)."
      out << ""
      out << "Machine: #{m["cpu"]}, #{m["cores"]} cores, #{m["memory_gib"]} GiB, Linux #{m["kernel"]}, " \
             "TCP congestion control #{m["tcp_congestion_control"]}. #{m["ruby"]}; RubyGems #{m["rubygems"]}; " \
             "#{m["bundler"]}; Typhoeus #{m["typhoeus"]}; #{m["curl"]&.split("(")&.first&.strip}; #{m["aria2c"]}; #{m["nginx"]}."
      out << ""
      out << "Network: `wow-wan` (crates/wan), a userspace relay between two network namespaces over TUN " \
             "devices: one-way delay of half the RTT, the bottleneck rate in each direction, a drop-tail queue " \
             "of 100 ms of that rate, real kernel TCP at both ends. Mirror: nginx, HTTPS, HTTP/2, compact and " \
             "legacy indexes."
      results["cases"].each do |c|
        out << ""
        out << "## #{c["id"]}: #{c["gems"]} gems, #{f(c["bytes"] / 1e6, 1)} MB, RTT #{c["rtt_ms"]} ms, " \
               "#{c["rate_mbit"]} Mbit/s — limit #{f(c["limit_s"])} s"
        out << ""
        out << "| tool | median s | min s | × limit | connections | peak RSS MB | CPU s | CPU s/GB | runs |"
        out << "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        c["peers"].sort_by { |p| p["median_s"] || Float::INFINITY }.each do |p|
          if p["skipped"]
            out << "| #{p["label"]} | #{p["skipped"]} | | | | | | | |"
            next
          end
          out << "| #{p["label"]} | #{f(p["median_s"])} | #{f(p["min_s"])} | #{f(p["ratio"])}× | " \
                 "#{f(p["connections"], 0)} | #{f(p["peak_rss_mb"], 0)} | #{f(p["cpu_s"])} | " \
                 "#{f(p["cpu_s_per_gb"], 1)} | #{p["runs_ok"]}/#{p["runs_total"]} |"
        end
        out << ""
        out << "Emulator self-check: " + c["self_check"].map { |l| l.sub(/\.$/, "") }.join("; ") + "."
        out << "Relay totals for the case: #{c["relay_totals"].join("; ")}." if c["relay_totals"]&.any?
        out << "Load average (1 min) before / after: #{c["load_before"]} / #{c["load_after"]}."
        out << "Note: #{c["note"]}." if c["note"]
        next unless (ip = c["inproc"])

        ms = ->(a) { f(median(a) * 1e3, 1) }
        out << ""
        out << "wow-fetch in one process, timed around `download_all` (median of #{ip["warm_s"].size}):"
        out << ""
        out << "| measurement | ms |"
        out << "|---|---:|"
        out << "| cold, no block | #{ms.(ip["cold_no_block_s"])} |"
        out << "| cold, block receiving all #{ip["events_per_run"]} events | #{ms.(ip["cold_block_s"])} " \
               "(#{format("%+.1f", ip["block_overhead"] * 100)}%) |"
        out << "| warm cache, #{ip["cached_files"]} gems verified | #{ms.(ip["warm_s"])} |"
        out << "| `sha256sum` of the same files | #{ms.(ip["sha256sum_s"])} |"
      end
      out << ""
      out.join("\n")
    end

    COLORS = { "wow" => "#d1495b", "curl" => "#00798c", "aria2c" => "#30638e", "typhoeus" => "#edae49",
               "bundle" => "#66a182", "gem" => "#8d96a3" }.freeze

    def color(id)
      COLORS.find { |k, _| id.start_with?(k) }&.last || "#555555"
    end

    def esc(text) = text.to_s.gsub("&", "&amp;").gsub("<", "&lt;").gsub(">", "&gt;")

    # One panel per case: a bar per tool at its median, a tick at its min, a dashed line at the
    # physical limit. Log scale, since `gem fetch` and curl differ by an order of magnitude.
    def svg(results)
      width = 960
      label_w = 330
      plot_w = width - label_w - 90
      row = 20
      y = 40
      parts = []
      all = results["cases"].flat_map { |c| c["peers"].map { |p| p["median_s"] } + [c["limit_s"]] }.compact
      lo = 10.0**Math.log10(all.min).floor
      hi = 10.0**Math.log10(all.max).ceil
      x = ->(s) { label_w + plot_w * (Math.log10(s) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) }
      results["cases"].each do |c|
        peers = c["peers"].reject { |p| p["median_s"].nil? }.sort_by { |p| p["median_s"] }
        parts << %(<text x="10" y="#{y}" font-weight="bold">#{esc(c["id"])}: #{c["gems"]} gems, ) +
                 %(#{f(c["bytes"] / 1e6, 1)} MB, RTT #{c["rtt_ms"]} ms, #{c["rate_mbit"]} Mbit/s</text>)
        y += 10
        top = y
        peers.each do |p|
          parts << %(<text x="#{label_w - 8}" y="#{y + 14}" text-anchor="end">#{esc(p["label"])}</text>)
          parts << %(<rect x="#{label_w}" y="#{y + 3}" width="#{(x.call(p["median_s"]) - label_w).round(1)}" ) +
                   %(height="#{row - 6}" fill="#{color(p["id"])}"/>)
          mx = x.call(p["min_s"]).round(1)
          parts << %(<line x1="#{mx}" x2="#{mx}" y1="#{y + 1}" y2="#{y + row - 1}" stroke="#222"/>)
          parts << %(<text x="#{(x.call(p["median_s"]) + 6).round(1)}" y="#{y + 14}">#{f(p["median_s"])} s ) +
                   %((#{f(p["ratio"])}×)</text>)
          y += row
        end
        lx = x.call(c["limit_s"]).round(1)
        parts << %(<line x1="#{lx}" x2="#{lx}" y1="#{top}" y2="#{y}" stroke="#000" stroke-dasharray="4 3"/>)
        parts << %(<text x="#{lx}" y="#{y + 12}" text-anchor="middle" font-size="11">limit #{f(c["limit_s"])} s</text>)
        y += 36
      end
      ticks = []
      t = lo
      while t <= hi
        [1, 2, 5].each do |m|
          v = t * m
          ticks << v if v >= lo && v <= hi
        end
        t *= 10
      end
      axis = ticks.map do |v|
        %(<line x1="#{x.call(v).round(1)}" x2="#{x.call(v).round(1)}" y1="30" y2="#{y - 20}" stroke="#ddd"/>) +
          %(<text x="#{x.call(v).round(1)}" y="#{y}" text-anchor="middle" font-size="11">#{format("%g", v.round(3))} s</text>)
      end
      <<~SVG
        <svg xmlns="http://www.w3.org/2000/svg" width="#{width}" height="#{y + 20}" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="10" y="18" font-size="14" font-weight="bold">Cold download time, median of runs (tick: min), log scale; dashed: physical limit</text>
        #{axis.join("\n")}
        #{parts.join("\n")}
        </svg>
      SVG
    end
  end
end

if $PROGRAM_NAME == __FILE__
  path = ARGV.fetch(0) { abort "usage: ruby bench/lib/report.rb latest.json" }
  results = JSON.parse(File.read(path))
  File.write(path.sub(/\.json\z/, ".md"), WowBench::Report.markdown(results))
  File.write(path.sub(/\.json\z/, ".svg"), WowBench::Report.svg(results))
end
