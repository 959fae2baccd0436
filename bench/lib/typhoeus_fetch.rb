# frozen_string_literal: true

# The Typhoeus peer: every URL through one Typhoeus::Hydra at max_concurrency 16, with
# libcurl's defaults otherwise, bodies streamed to disk (as a careful user would, so memory is
# comparable with the other tools).
#
# usage: ruby typhoeus_fetch.rb LIST DEST CA_FILE    (LIST: lines "URL FILE_NAME")

require "typhoeus"

list, dest, ca = ARGV
failures = []
hydra = Typhoeus::Hydra.new(max_concurrency: 16)
File.readlines(list, chomp: true).each do |line|
  url, name = line.split(" ", 2)
  file = nil
  request = Typhoeus::Request.new(url, cainfo: ca)
  request.on_body do |chunk|
    file ||= File.open(File.join(dest, name), "wb")
    file.write(chunk)
  end
  request.on_complete do |response|
    file&.close
    failures << "#{url}: #{response.code} #{response.return_code}" unless response.success?
  end
  hydra.queue(request)
end
hydra.run
abort "typhoeus: #{failures.size} failed\n#{failures.first(5).join("\n")}" unless failures.empty?
