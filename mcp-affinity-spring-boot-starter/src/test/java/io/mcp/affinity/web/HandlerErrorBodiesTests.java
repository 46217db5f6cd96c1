package io.mcp.affinity.web;

import java.nio.charset.StandardCharsets;

import io.modelcontextprotocol.spec.McpError;
import io.modelcontextprotocol.spec.McpSchema;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

import org.springframework.http.MediaType;

import static org.assertj.core.api.Assertions.assertThat;

class HandlerErrorBodiesTests {

	@Test
	void anMcpErrorOfAClientErrorKeepsItsCodeAndMessage() {
		McpError error = McpError.builder(McpSchema.ErrorCodes.INVALID_REQUEST).message("Invalid message format").build();
		assertThat(replacing(400, MediaType.APPLICATION_JSON, error))
			.isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid message format\"}}");
	}

	@Test
	void anMcpErrorOfAServerErrorKeepsItsCodeButNotTheMessageOfWhatWentWrongInside() {
		McpError error = McpError.builder(McpSchema.ErrorCodes.INTERNAL_ERROR)
			.message("Cannot invoke \"Repository.find()\" because \"this.repository\" is null")
			.build();
		assertThat(replacing(500, null, error))
			.isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":\"Internal Server Error\"}}");
	}

	@Test
	void anyOtherExceptionGetsTheCodeOfItsKindOfStatusAndTheStatusReason() {
		assertThat(replacing(404, null, new IllegalStateException("no such thing in /var/app")))
			.isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Not Found\"}}");
		assertThat(replacing(503, null, new IllegalStateException("pool exhausted")))
			.isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":\"Service Unavailable\"}}");
	}

	@Test
	void plainTextBecomesTheMessageEscapedForJson() {
		assertThat(replacing(400, MediaType.TEXT_PLAIN, "Session ID required in \"mcp-session-id\" header\n"))
			.isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
					+ "\"message\":\"Session ID required in \\\"mcp-session-id\\\" header\\u000a\"}}");
		assertThat(replacing(503, null, "Server is shutting down"))
			.isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":\"Server is shutting down\"}}");
		assertThat(replacing(403, null, ""))
			.isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Forbidden\"}}");
	}

	@Test
	void anAnswerWithoutABodyGetsTheStatusReason() {
		assertThat(new String(HandlerErrorBodies.forEmpty(405), StandardCharsets.UTF_8))
			.isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Method Not Allowed\"}}");
		assertThat(new String(HandlerErrorBodies.forEmpty(500), StandardCharsets.UTF_8))
			.isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":\"Internal Server Error\"}}");
	}

	@Test
	void successesAndBodiesOfAnyOtherKindAreLeftAsTheyAre() {
		McpError error = McpError.builder(McpSchema.ErrorCodes.INVALID_REQUEST).message("not an error here").build();
		assertThat(HandlerErrorBodies.replacing(200, null, error)).isNull();
		assertThat(HandlerErrorBodies.replacing(202, MediaType.TEXT_PLAIN, "accepted")).isNull();
		assertThat(HandlerErrorBodies.replacing(400, MediaType.APPLICATION_JSON, "{\"already\":\"json\"}")).isNull();
		assertThat(HandlerErrorBodies.replacing(400, null, new byte[] { 1, 2 })).isNull();
		assertThat(HandlerErrorBodies.replacing(404, null, null)).isNull();
	}

	private static String replacing(int status, @Nullable MediaType contentType, Object entity) {
		byte[] body = HandlerErrorBodies.replacing(status, contentType, entity);
		assertThat(body).as("replacement body").isNotNull();
		return new String(body, StandardCharsets.UTF_8);
	}

}
