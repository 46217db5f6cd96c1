package io.mcp.affinity.core;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A validated MCP session id. The MCP specification allows only visible ASCII (0x21 to 0x7E); we also bound the
 * length, so a hostile id cannot inflate a store key. Session ids are bearer-like: {@link #toString()} is a short
 * hash, never the id itself, so an id that reaches a log line by accident is still safe.
 */
public final class SessionId {

	/** The longest id accepted by {@link #of(String)}. Generous: the Java SDK mints 36-character UUIDs. */
	public static final int MAX_LENGTH = 256;

	private static final HexFormat HEX = HexFormat.of();

	private final String value;

	private SessionId(String value) {
		this.value = value;
	}

	/**
	 * Validates a raw session id.
	 * @param raw the id as the client sent it
	 * @return the session id
	 * @throws InvalidSessionIdException if the id is empty, too long, or has a character outside 0x21-0x7E
	 */
	public static SessionId of(String raw) {
		if (raw.isEmpty()) {
			throw new InvalidSessionIdException("Session id is empty");
		}
		if (raw.length() > MAX_LENGTH) {
			throw new InvalidSessionIdException("Session id is longer than " + MAX_LENGTH + " characters");
		}
		for (int i = 0; i < raw.length(); i++) {
			char c = raw.charAt(i);
			if (c < 0x21 || c > 0x7E) {
				throw new InvalidSessionIdException(
						"Session id has a character outside visible ASCII (0x21-0x7E) at index " + i);
			}
		}
		return new SessionId(raw);
	}

	/**
	 * The raw id, for in-memory store keys, the Redis key digest and the request forwarded to the owner; never for
	 * logs nor, as is, for anything stored in Redis.
	 */
	public String value() {
		return this.value;
	}

	/**
	 * A short, stable, non-reversible form of an id for logs and operators: the first 8 bytes of its SHA-256 as hex.
	 * @param raw any string, validated or not
	 * @return the redacted form
	 */
	public static String redact(String raw) {
		try {
			byte[] digest = MessageDigest.getInstance("SHA-256").digest(raw.getBytes(StandardCharsets.UTF_8));
			return "#" + HEX.formatHex(digest, 0, 8);
		}
		catch (NoSuchAlgorithmException ex) {
			throw new IllegalStateException("SHA-256 is required of every Java platform", ex);
		}
	}

	@Override
	public boolean equals(Object other) {
		return (this == other) || (other instanceof SessionId that && this.value.equals(that.value));
	}

	@Override
	public int hashCode() {
		return this.value.hashCode();
	}

	/** The redacted form (see {@link #redact(String)}): safe to log. */
	@Override
	public String toString() {
		return redact(this.value);
	}

}
