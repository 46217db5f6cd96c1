package io.mcp.affinity.web;

import java.nio.charset.StandardCharsets;

import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Mono;

/**
 * The answers the affinity layer gives by itself: small JSON-RPC error bodies that an MCP client understands, never
 * a stack trace.
 */
enum JsonRpcErrors {

	/** No live instance owns the session: the client must start a new one (MCP: 404 means re-initialize). */
	SESSION_NOT_FOUND(HttpStatus.NOT_FOUND, -32001, "Session not found"),

	/** The session id cannot be a valid MCP session id. */
	INVALID_SESSION_ID(HttpStatus.BAD_REQUEST, -32600, "Invalid session id"),

	/** The session header and the legacy sessionId parameter name different sessions. */
	CONFLICTING_SESSION_IDS(HttpStatus.BAD_REQUEST, -32600, "Mcp-Session-Id header and sessionId parameter disagree"),

	/** The request claims to be forwarded by another instance, but its signature does not hold. */
	FORGED_FORWARD(HttpStatus.FORBIDDEN, -32600, "Forwarded request rejected"),

	/** The request body is larger than the MCP handler accepts. */
	BODY_TOO_LARGE(HttpStatus.PAYLOAD_TOO_LARGE, -32600, "Request body too large"),

	/** The client stopped sending its request body. */
	BODY_TIMEOUT(HttpStatus.REQUEST_TIMEOUT, -32600, "Request body not received in time"),

	/**
	 * The ownership store did not answer in time: the session may well be alive (retry rather than restart), or a new
	 * session could not be made routable (retry the initialize).
	 */
	STORE_UNAVAILABLE(HttpStatus.SERVICE_UNAVAILABLE, -32000, "Session owner temporarily unknown; retry shortly"),

	/** The owning instance did not accept a connection in time: busy, or going away; retry rather than restart. */
	OWNER_UNAVAILABLE(HttpStatus.SERVICE_UNAVAILABLE, -32000, "Session owner not reachable in time; retry shortly"),

	/** The owning instance accepted the request but sent no response headers in time. */
	OWNER_TIMEOUT(HttpStatus.GATEWAY_TIMEOUT, -32000, "Session owner did not answer in time");

	private static final String RETRY_AFTER_SECONDS = "1";

	private final HttpStatus status;

	private final byte[] body;

	JsonRpcErrors(HttpStatus status, int code, String message) {
		this.status = status;
		this.body = ("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":" + code + ",\"message\":\"" + message + "\"}}")
			.getBytes(StandardCharsets.UTF_8);
	}

	HttpStatus status() {
		return this.status;
	}

	Mono<ServerResponse> response() {
		ServerResponse.BodyBuilder builder = ServerResponse.status(this.status).contentType(MediaType.APPLICATION_JSON);
		if (this.status == HttpStatus.SERVICE_UNAVAILABLE) {
			builder.header(HttpHeaders.RETRY_AFTER, RETRY_AFTER_SECONDS);
		}
		return builder.bodyValue(this.body);
	}

	Mono<Void> writeTo(ServerHttpResponse response) {
		response.setStatusCode(this.status);
		if (this.status == HttpStatus.SERVICE_UNAVAILABLE) {
			response.getHeaders().set(HttpHeaders.RETRY_AFTER, RETRY_AFTER_SECONDS);
		}
		response.getHeaders().setContentType(MediaType.APPLICATION_JSON);
		response.getHeaders().setContentLength(this.body.length);
		return response.writeWith(Mono.fromSupplier(() -> response.bufferFactory().wrap(this.body)));
	}

}
