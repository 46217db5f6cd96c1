package io.mcp.affinity.web;

import java.nio.charset.StandardCharsets;

import io.modelcontextprotocol.spec.McpError;
import org.jspecify.annotations.Nullable;

import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.util.ClassUtils;

/**
 * JSON-RPC error bodies in place of the error answers an MCP handler gives with an exception, plain text or nothing as
 * body.
 * <p>
 * Spring AI's transports (2.0) answer bad input, a malformed message for one, with the MCP Java SDK's
 * {@code McpError} exception serialized as JSON: its stack trace included, about 10 kB that tell anyone who sends a
 * malformed request which classes the server runs, and no JSON-RPC error a client can read (spring-ai#6855,
 * java-sdk#955). Some of their other error answers are plain text, or have no body at all. The affinity layer sits in
 * front of the MCP router, so each of those answers leaves as a JSON-RPC error instead, with the same status and
 * headers: the exception's JSON-RPC code and message (for a server error, only its code: the message of an unexpected
 * exception is no business of the client's), the text as message, or the status's reason. Every other answer, errors
 * with a body of another kind included, leaves as the handler gave it.
 */
public final class HandlerErrorBodies {

	private static final boolean MCP_SDK_PRESENT = ClassUtils.isPresent("io.modelcontextprotocol.spec.McpError",
			HandlerErrorBodies.class.getClassLoader());

	// JSON-RPC's codes for an invalid request and an internal error.
	private static final int INVALID_REQUEST = -32600;

	private static final int INTERNAL_ERROR = -32603;

	private HandlerErrorBodies() {
	}

	/**
	 * The JSON-RPC error body to answer with instead of an error answer's body.
	 * @param status the answer's status code
	 * @param contentType the content type the answer names, if any
	 * @param entity the answer's body as the handler gave it (not yet written)
	 * @return the JSON-RPC error body (UTF-8), or {@code null} to leave the answer as it is: not an error, or a body
	 * that is neither an exception nor plain text
	 */
	public static byte @Nullable [] replacing(int status, @Nullable MediaType contentType, @Nullable Object entity) {
		if (status < 400 || entity == null) {
			return null;
		}
		boolean serverError = status >= 500;
		int code = serverError ? INTERNAL_ERROR : INVALID_REQUEST;
		if (entity instanceof Throwable error) {
			JsonRpcError named = MCP_SDK_PRESENT ? McpSdk.jsonRpcError(error) : null;
			if (named == null) {
				return body(code, reason(status));
			}
			String message = named.message();
			boolean hidden = serverError || message == null || message.isBlank();
			return body(named.code(), hidden ? reason(status) : message);
		}
		if (entity instanceof CharSequence text
				&& (contentType == null || MediaType.TEXT_PLAIN.isCompatibleWith(contentType))) {
			return body(code, text.toString().isBlank() ? reason(status) : text.toString());
		}
		return null;
	}

	/**
	 * The JSON-RPC error body for an error answer the handler gave without a body.
	 * @param status the answer's status code, 400 or more
	 * @return the JSON-RPC error body (UTF-8): the status's reason as message
	 */
	public static byte[] forEmpty(int status) {
		return body((status >= 500) ? INTERNAL_ERROR : INVALID_REQUEST, reason(status));
	}

	private static String reason(int status) {
		HttpStatus known = HttpStatus.resolve(status);
		return (known != null) ? known.getReasonPhrase() : "Error";
	}

	private static byte[] body(int code, String message) {
		StringBuilder json = new StringBuilder(64 + message.length());
		json.append("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":").append(code).append(",\"message\":\"");
		for (int i = 0; i < message.length(); i++) {
			char c = message.charAt(i);
			if (c == '"' || c == '\\') {
				json.append('\\').append(c);
			}
			else if (c < 0x20) {
				json.append(String.format("\\u%04x", (int) c));
			}
			else {
				json.append(c);
			}
		}
		return json.append("\"}}").toString().getBytes(StandardCharsets.UTF_8);
	}

	private record JsonRpcError(int code, @Nullable String message) {
	}

	// The only code that touches the MCP Java SDK's classes, loaded when the SDK is on the class path.
	private static final class McpSdk {

		static @Nullable JsonRpcError jsonRpcError(Throwable error) {
			return (error instanceof McpError mcpError && mcpError.getJsonRpcError() != null)
					? new JsonRpcError(mcpError.getJsonRpcError().code(), mcpError.getJsonRpcError().message()) : null;
		}

	}

}
