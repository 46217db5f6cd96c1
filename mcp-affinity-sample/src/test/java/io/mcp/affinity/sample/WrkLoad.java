package io.mcp.affinity.sample;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Drives MCP tool calls with wrk, a load generator in C, when it is installed: it leaves much more of a shared
 * machine's CPU to the instances under test than a JVM client does. Each connection's requests rotate over the given
 * sessions, already initialized.
 */
final class WrkLoad {

	private static final Pattern REQUESTS = Pattern.compile("(\\d+) requests in");

	private static final Pattern NON_2XX = Pattern.compile("Non-2xx or 3xx responses: (\\d+)");

	private WrkLoad() {
	}

	/** Whether wrk is on the path. */
	static boolean available() {
		try {
			Process process = new ProcessBuilder("wrk", "--version").redirectErrorStream(true).start();
			process.getInputStream().readAllBytes();
			return process.waitFor(10, TimeUnit.SECONDS);
		}
		catch (IOException ex) {
			return false;
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			return false;
		}
	}

	/**
	 * Runs one load.
	 * @param target the instance
	 * @param sessions initialized sessions, one connection each
	 * @param body the JSON-RPC request to send
	 * @param duration how long
	 * @return what wrk measured
	 */
	static Result run(URI target, List<String> sessions, String body, Duration duration) throws Exception {
		Path script = Files.createTempFile("mcp-affinity-wrk", ".lua");
		try {
			Files.writeString(script, script(sessions, body));
			Process process = new ProcessBuilder("wrk", "-t1", "-c" + sessions.size(), "-d" + duration.toSeconds() + "s",
					"--latency", "-s", script.toString(), target.resolve("/mcp").toString())
				.redirectErrorStream(true)
				.start();
			String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
			if (!process.waitFor(duration.toSeconds() + 30, TimeUnit.SECONDS) || process.exitValue() != 0) {
				throw new IllegalStateException("wrk failed: " + output);
			}
			return new Result(number(REQUESTS, output, -1), latency(output, "50%"), latency(output, "99%"),
					number(NON_2XX, output, 0));
		}
		finally {
			Files.deleteIfExists(script);
		}
	}

	private static String script(List<String> sessions, String body) {
		String ids = sessions.stream().map((id) -> "\"" + id + "\"").collect(Collectors.joining(", "));
		return """
				local sessions = { %s }
				local body = [==[%s]==]
				local next = 0
				request = function()
				  next = next %% #sessions + 1
				  return wrk.format("POST", nil, { ["Content-Type"] = "application/json",
				    ["Accept"] = "application/json, text/event-stream", ["Mcp-Session-Id"] = sessions[next],
				    ["MCP-Protocol-Version"] = "2025-06-18" }, body)
				end
				""".formatted(ids, body);
	}

	private static long number(Pattern pattern, String output, long otherwise) {
		Matcher matcher = pattern.matcher(output);
		if (matcher.find()) {
			return Long.parseLong(matcher.group(1));
		}
		if (otherwise < 0) {
			throw new IllegalStateException("unexpected wrk output: " + output);
		}
		return otherwise;
	}

	// A line of the latency distribution, e.g. "     50%  656.00us", in nanoseconds.
	private static long latency(String output, String percentile) {
		Matcher matcher = Pattern.compile("^\\s*" + Pattern.quote(percentile) + "\\s+([\\d.]+)(us|ms|s)\\s*$",
				Pattern.MULTILINE)
			.matcher(output);
		if (!matcher.find()) {
			throw new IllegalStateException("no " + percentile + " latency in wrk output: " + output);
		}
		double value = Double.parseDouble(matcher.group(1));
		return (long) switch (matcher.group(2).toLowerCase(Locale.ROOT)) {
			case "us" -> value * 1e3;
			case "ms" -> value * 1e6;
			default -> value * 1e9;
		};
	}

	/**
	 * What one load measured.
	 * @param requests requests completed
	 * @param p50 median latency, nanoseconds
	 * @param p99 99th percentile latency, nanoseconds
	 * @param errors responses other than 2xx or 3xx
	 */
	record Result(long requests, long p50, long p99, long errors) {
	}

}
