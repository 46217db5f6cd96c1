package io.mcp.affinity.sample;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

import io.modelcontextprotocol.client.McpClient;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.client.transport.HttpClientSseClientTransport;
import io.modelcontextprotocol.client.transport.HttpClientStreamableHttpTransport;
import io.modelcontextprotocol.spec.HttpHeaders;
import io.modelcontextprotocol.spec.McpClientTransport;
import io.modelcontextprotocol.spec.McpSchema;

/**
 * Real MCP clients (the MCP Java SDK's) for the end-to-end tests. Each answers sampling by echoing the question,
 * accepts elicitations, records progress notifications with their arrival time, and marks the POSTs that carry its
 * answers to server requests with a test header, so the front door's record shows where those answers went.
 */
final class McpClients {

	static final String ANSWER_MARKER = "X-Test-Client-Answer";

	private McpClients() {
	}

	static Client streamable(URI base) {
		AtomicReference<String> sessionId = new AtomicReference<>();
		HttpClientStreamableHttpTransport transport = HttpClientStreamableHttpTransport.builder(base.toString())
			.endpoint("/mcp")
			.httpRequestCustomizer((builder, method, uri, body, context) -> {
				builder.build().headers().firstValue(HttpHeaders.MCP_SESSION_ID).ifPresent(sessionId::set);
				markAnswers(builder, body);
			})
			.build();
		return new Client(transport, sessionId);
	}

	static Client legacySse(URI base) {
		AtomicReference<String> sessionId = new AtomicReference<>();
		HttpClientSseClientTransport transport = HttpClientSseClientTransport.builder(base.toString())
			.sseEndpoint("/sse")
			.httpRequestCustomizer((builder, method, uri, body, context) -> {
				String query = uri.getQuery();
				if (query != null && query.startsWith("sessionId=")) {
					sessionId.set(query.substring("sessionId=".length()));
				}
				markAnswers(builder, body);
			})
			.build();
		return new Client(transport, sessionId);
	}

	private static void markAnswers(java.net.http.HttpRequest.Builder builder, String body) {
		if (body != null && body.contains("\"result\"") && !body.contains("\"method\"")) {
			builder.header(ANSWER_MARKER, "true");
		}
	}

	static final class Client implements AutoCloseable {

		final McpSyncClient mcp;

		final AtomicReference<String> sessionId;

		final List<Progress> progress = new CopyOnWriteArrayList<>();

		final List<String> logs = new CopyOnWriteArrayList<>();

		Client(McpClientTransport transport, AtomicReference<String> sessionId) {
			this.sessionId = sessionId;
			this.mcp = McpClient.sync(transport)
				.clientInfo(new McpSchema.Implementation("mcp-affinity-tests", "1.0"))
				.requestTimeout(Duration.ofSeconds(20))
				.sampling((request) -> McpSchema.CreateMessageResult.builder()
					.role(McpSchema.Role.ASSISTANT)
					.content(new McpSchema.TextContent(
							"echo: " + ((McpSchema.TextContent) request.messages().get(0).content()).text()))
					.model("test-model")
					.stopReason(McpSchema.CreateMessageResult.StopReason.END_TURN)
					.build())
				.elicitation((request) -> new McpSchema.ElicitResult(McpSchema.ElicitResult.Action.ACCEPT,
						Map.of("confirmed", true)))
				.progressConsumer((notification) -> this.progress.add(new Progress(System.nanoTime(), notification)))
				.loggingConsumer((notification) -> this.logs.add(String.valueOf(notification.data())))
				.build();
			this.mcp.initialize();
		}

		String call(String tool, Map<String, Object> arguments) {
			McpSchema.CallToolResult result = this.mcp
				.callTool(McpSchema.CallToolRequest.builder(tool).arguments(arguments).build());
			String text = ((McpSchema.TextContent) result.content().get(0)).text();
			if (Boolean.TRUE.equals(result.isError())) {
				throw new AssertionError(tool + " failed: " + text);
			}
			return text;
		}

		McpSchema.CallToolResult callWithProgress(String tool, Map<String, Object> arguments, String token) {
			return this.mcp
				.callTool(McpSchema.CallToolRequest.builder(tool).arguments(arguments).progressToken(token).build());
		}

		@Override
		public void close() {
			this.mcp.closeGracefully();
		}

	}

	record Progress(long arrivedAtNanos, McpSchema.ProgressNotification notification) {
	}

}
