# frozen_string_literal: true

desc "Validate the RBS signatures in sig/"
task :sig do
  rbs = Gem.bin_path("rbs", "rbs")
  sh RbConfig.ruby, rbs, "-r", "uri", "-r", "rubygems", "-I", "sig", "validate", "--silent"
end
