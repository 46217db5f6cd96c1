package io.mcp.affinity.web;

import java.nio.charset.StandardCharsets;

import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;

/**
 * The answers the affinity layer gives by itself: small JSON-RPC error bodies that an MCP client understands, never
 * a stack trace. Each stack's adapter writes them the same way: this status, {@code application/json}, this body, and
 * {@code Retry-After} when there is one.
 */
public enum JsonRpcErrors {

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
	OWNER_TIMEOUT(HttpStatus.GATEWAY_TIMEOUT, -32000, "Session owner did not answer in time"),

	/**
	 * The forward failed for any other reason before the owner's answer began: an owner whose answer is not valid
	 * HTTP, for one. The session is kept.
	 */
	FORWARD_FAILED(HttpStatus.BAD_GATEWAY, -32000, "Forwarding to the session owner failed");

	private final HttpStatus status;

	private final byte[] body;

	JsonRpcErrors(HttpStatus status, int code, String message) {
		this.status = status;
		this.body = ("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":" + code + ",\"message\":\"" + message + "\"}}")
			.getBytes(StandardCharsets.UTF_8);
	}

	/** The HTTP status of the answer. */
	public HttpStatus status() {
		return this.status;
	}

	/** The JSON-RPC error body, UTF-8 encoded (a copy). */
	public byte[] body() {
		return this.body.clone();
	}

	/** The headers of the answer: its content type, and {@code Retry-After} when it asks for a retry. */
	public HttpHeaders headers() {
		HttpHeaders headers = new HttpHeaders();
		headers.setContentType(MediaType.APPLICATION_JSON);
		if (this.status == HttpStatus.SERVICE_UNAVAILABLE) {
			headers.set(HttpHeaders.RETRY_AFTER, "1");
		}
		return headers;
	}

}
