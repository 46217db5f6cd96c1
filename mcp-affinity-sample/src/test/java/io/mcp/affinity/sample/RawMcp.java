package io.mcp.affinity.sample;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** MCP over plain HTTP, for tests that need to choose the instance each request goes to. */
final class RawMcp {

	static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

	private RawMcp() {
	}

	/** Initializes a session on the given instance and returns its id. */
	static String initialize(URI instance) throws Exception {
		HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(instance.resolve("/mcp"))
			.header("Content-Type", "application/json")
			.header("Accept", "application/json, text/event-stream")
			.POST(HttpRequest.BodyPublishers.ofString("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
					+ "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"raw\",\"version\":\"1\"}}}"))
			.build(), HttpResponse.BodyHandlers.ofString());
		assertThat(response.statusCode()).isEqualTo(200);
		String session = response.headers().firstValue("Mcp-Session-Id").orElseThrow();
		assertThat(post(instance, session, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}").statusCode())
			.isEqualTo(202);
		return session;
	}

	/** Posts a JSON-RPC message for a session to the given instance. */
	static HttpResponse<String> post(URI instance, String session, String body) throws Exception {
		return HTTP.send(request(instance, session, body).build(), HttpResponse.BodyHandlers.ofString());
	}

	static HttpRequest.Builder request(URI instance, String session, String body) {
		return HttpRequest.newBuilder(instance.resolve("/mcp"))
			.header("Content-Type", "application/json")
			.header("Accept", "application/json, text/event-stream")
			.header("Mcp-Session-Id", session)
			.header("MCP-Protocol-Version", "2025-06-18")
			.POST(HttpRequest.BodyPublishers.ofString(body))
			.timeout(Duration.ofSeconds(30));
	}

}
