# frozen_string_literal: true

# A fork after use works in the child: the engine (runtime and pool) is rebuilt there, and the
# parent's keeps working (README.md, "What you can rely on": fork).
RSpec.describe "fork", mirror: true do
  def download_in_child(fetcher, name)
    reader, writer = IO.pipe
    pid = fork do
      reader.close
      result, = fetcher.download_all([name], source: mirror.url, cache_dir: File.join(tmp, "child"), progress: false)
      writer.write(Marshal.dump(result.to_h))
      exit!(0)
    rescue Exception => e # rubocop:disable Lint/RescueException
      writer.write(Marshal.dump(e.full_message))
      exit!(1)
    end
    writer.close
    child = Process.detach(pid)
    raise "the child hung" unless child.join(30)

    [Marshal.load(reader.read), child.value]
  end

  it "downloads in a child after the parent used the same instance" do
    fetcher = Wow::Fetcher.new(source: mirror.url, cache_dir: cache_dir, progress: false)
    expect(fetcher.download_all(["rack-3.0.9"]).first).to be_ok

    result, status = download_in_child(fetcher, "rake-13.1.0")
    expect(status).to be_success, result.to_s
    expect(result).to include(status: :downloaded, sha256: mirror.fixture("rake-13.1.0").sha256)
    expect(fetcher.download_all(["thor-1.3.0"]).first).to be_ok
  end

  it "downloads in a child through the shared default instance" do
    fetch(["rack-3.0.9"])
    result, status = download_in_child(Wow::Fetcher.default, "erubi-1.12.0")
    expect(status).to be_success, result.to_s
    expect(result[:status]).to eq(:downloaded)
  end
end
