# frozen_string_literal: true

# Runs one measured command inside the client namespace and writes what it cost as JSON:
# wall time from spawn to exit (monotonic clock, taken here so `ip netns exec` and Ruby's own
# start-up stay outside the measurement), peak RSS and CPU time from GNU time's wait4 rusage,
# exit status, and whether the time limit killed it.
#
# usage: ruby timed.rb RESULT.json TIMEOUT_S DIR LOG -- COMMAND...

require "json"

result_path, timeout, dir, log = ARGV.shift(4)
ARGV.shift if ARGV.first == "--"
abort "usage: timed.rb RESULT TIMEOUT DIR LOG -- COMMAND..." if ARGV.empty?
timeout = Float(timeout)
time_file = "#{result_path}.time"

started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
pid = Process.spawn("/usr/bin/time", "-f", "%M %U %S", "-o", time_file, *ARGV,
                    chdir: dir, pgroup: true, in: File::NULL, %i[out err] => [log, "w"])
waiter = Process.detach(pid)
status = waiter.join(timeout)&.value
wall = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
unless status
  # Bounded: a tool that hangs is killed with its whole process group and reported as such.
  Process.kill(:KILL, -pid) rescue nil # rubocop:disable Style/RescueModifier
  status = waiter.value
end

rss_kb, user, sys = (File.exist?(time_file) ? File.read(time_file).lines.last.to_s : "").split.map(&:to_f)
File.write(result_path, JSON.generate(
  wall: wall, exit: status.exitstatus, timed_out: wall >= timeout,
  rss_kb: rss_kb.to_i, cpu_user: user.to_f, cpu_sys: sys.to_f
))
