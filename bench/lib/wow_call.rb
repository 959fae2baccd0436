# frozen_string_literal: true

# The wow-fetch Ruby API peer: what a user's script does (`require "wow/fetch"`, then one
# `Wow::Fetcher.download_all` of the whole set at the defaults), with the call itself timed
# inside the process. The harness times the whole process from outside (spawn to exit) and
# reads this file's numbers for the row "wow-fetch, Ruby API (the call)": issue 18 judges the
# Ruby API by the call, and the CLI by the whole process.
#
# usage: ruby -I lib wow_call.rb LIST DEST SOURCE TIMES_FILE
#        (LIST: one full name per line; TIMES_FILE gets "require=S call=S")
#
# Nothing beyond wow-fetch is loaded (no json), so the whole-process row is not made slower by
# the measuring itself.

list, dest, source, times = ARGV
clock = -> { Process.clock_gettime(Process::CLOCK_MONOTONIC) }
t0 = clock.call
require "wow/fetch"
t1 = clock.call
Wow::Fetcher.download_all(File.readlines(list, chomp: true), dest: dest, source: source)
t2 = clock.call
File.write(times, format("require=%.6f call=%.6f\n", t1 - t0, t2 - t1))
