package io.mcp.affinity.core;

/**
 * Thrown when a client-supplied session id cannot be a valid MCP session id. A web layer maps it to 400: the id
 * never reaches a store key or a log line.
 */
public class InvalidSessionIdException extends IllegalArgumentException {

	public InvalidSessionIdException(String reason) {
		super(reason);
	}

}
