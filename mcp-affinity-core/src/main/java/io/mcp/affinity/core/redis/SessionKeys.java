package io.mcp.affinity.core.redis;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Base64;
import java.util.Objects;

import io.mcp.affinity.core.SessionId;

/**
 * The Redis key of a session's ownership entry: {@code <prefix>session:<digest>}, where the digest is the first 16
 * bytes (128 bits) of the SHA-256 of the id's UTF-8 bytes, base64url without padding: always
 * {@value #DIGEST_LENGTH} characters.
 * <p>
 * Why a digest rather than the id:
 * <ul>
 * <li>No secret at rest: session ids are bearer-like, and whoever can read Redis (a read-only ACL user,
 * {@code MONITOR}, {@code KEYS}, an RDB backup) would otherwise harvest every live one.</li>
 * <li>A fixed key length whatever the id's length, so Redis memory per session is bounded and smaller than with
 * 36-character UUIDs.</li>
 * <li>The digest's alphabet has no braces, so no id, whatever its characters, acts as a Redis Cluster hash tag:
 * session keys always spread across slots.</li>
 * </ul>
 * 128 bits keep collisions out of reach for any realistic number of live sessions. The digest is unkeyed on purpose,
 * so every instance and an operator's shell compute it with no shared secret; it therefore hides an id only as well as
 * the id resists guessing, which random ids (the Java SDK's UUIDs carry 122 bits) do.
 * <p>
 * Operators looking up a session by hand compute the same digest, e.g.
 * {@code printf %s "$ID" | openssl dgst -sha256 -binary | head -c 16 | base64 | tr '+/' '-_' | tr -d '='}.
 */
public final class SessionKeys {

	/** Length of the digest that ends every session key. */
	public static final int DIGEST_LENGTH = 22;

	private static final int DIGEST_BYTES = 16;

	private static final Base64.Encoder BASE64URL = Base64.getUrlEncoder().withoutPadding();

	// A prototype that is never updated, only cloned per key: no state bound to event-loop or virtual threads, and a
	// clone is much cheaper than getInstance's provider look-up.
	private static final MessageDigest SHA_256;

	static {
		try {
			SHA_256 = MessageDigest.getInstance("SHA-256");
		}
		catch (NoSuchAlgorithmException ex) {
			throw new IllegalStateException("SHA-256 is required of every Java platform", ex);
		}
	}

	private final String sessionKeyPrefix;

	/**
	 * Creates the keys of one deployment.
	 * @param keyPrefix prefix of every key, as given to {@link RedisOwnershipStore}
	 */
	public SessionKeys(String keyPrefix) {
		this.sessionKeyPrefix = Objects.requireNonNull(keyPrefix, "keyPrefix must not be null") + "session:";
	}

	/**
	 * The Redis key of a session's entry.
	 * @param sessionId the session
	 * @return {@code <prefix>session:<digest>}
	 */
	public String key(SessionId sessionId) {
		return this.sessionKeyPrefix + digest(sessionId);
	}

	/**
	 * The digest that stands for a session id in Redis.
	 * @param sessionId the session
	 * @return {@value #DIGEST_LENGTH} base64url characters
	 */
	public static String digest(SessionId sessionId) {
		byte[] sha256 = sha256().digest(sessionId.value().getBytes(StandardCharsets.UTF_8));
		return BASE64URL.encodeToString(Arrays.copyOf(sha256, DIGEST_BYTES));
	}

	private static MessageDigest sha256() {
		try {
			return (MessageDigest) SHA_256.clone();
		}
		catch (CloneNotSupportedException ex) {
			// Only a third-party provider that cannot clone gets here; correctness first, speed second.
			try {
				return MessageDigest.getInstance("SHA-256");
			}
			catch (NoSuchAlgorithmException impossible) {
				throw new IllegalStateException("SHA-256 is required of every Java platform", impossible);
			}
		}
	}

}
