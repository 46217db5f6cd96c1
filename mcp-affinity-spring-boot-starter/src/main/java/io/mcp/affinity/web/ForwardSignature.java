package io.mcp.affinity.web;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import org.jspecify.annotations.Nullable;

/**
 * Signs forwarded requests so that a receiver can tell a forward from another instance from a client that merely
 * claims to be one. The signature is an HMAC-SHA256, under a secret all instances share, over the method, the path
 * and query, the session id, the sending instance's epoch and a timestamp; it travels in
 * {@value McpHttpHeaders#SIGNATURE} as {@code t=<epoch millis>,s=<base64url mac>}. A previous secret is still
 * accepted, so the secret can be rotated without downtime.
 */
public final class ForwardSignature {

	private static final String ALGORITHM = "HmacSHA256";

	private final Key signingKey;

	private final List<Key> acceptedKeys;

	private final Duration maxAge;

	private final Clock clock;

	/**
	 * Creates a signer and verifier.
	 * @param secret the shared secret that signs
	 * @param previousSecret a secret still accepted while a rotation is under way, or {@code null}
	 * @param maxAge how old a signature may be (clock skew between instances included)
	 * @param clock the clock
	 */
	public ForwardSignature(String secret, @Nullable String previousSecret, Duration maxAge, Clock clock) {
		this.signingKey = key(Objects.requireNonNull(secret, "secret must not be null"));
		List<Key> accepted = new ArrayList<>(List.of(this.signingKey));
		if (previousSecret != null && !previousSecret.isEmpty()) {
			accepted.add(key(previousSecret));
		}
		this.acceptedKeys = List.copyOf(accepted);
		this.maxAge = maxAge;
		this.clock = clock;
	}

	private static Key key(String secret) {
		if (secret.length() < 16) {
			throw new IllegalArgumentException("A forwarding secret must have at least 16 characters");
		}
		return new Key(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), ALGORITHM));
	}

	/**
	 * Signs a forward.
	 * @param method HTTP method
	 * @param pathAndQuery raw path and query
	 * @param sessionId the session id
	 * @param senderEpoch the forwarding instance's epoch
	 * @return the header value
	 */
	public String sign(String method, String pathAndQuery, String sessionId, String senderEpoch) {
		long now = this.clock.millis();
		return "t=" + now + ",s=" + this.signingKey.mac(method, pathAndQuery, sessionId, senderEpoch, now);
	}

	/**
	 * Verifies a forward.
	 * @param header the header value, or {@code null} when absent
	 * @param method HTTP method
	 * @param pathAndQuery raw path and query
	 * @param sessionId the session id
	 * @param senderEpoch the epoch the request claims to come from
	 * @return why the request is rejected, or {@code null} when the signature holds
	 */
	public @Nullable String rejection(@Nullable String header, String method, String pathAndQuery, String sessionId,
			String senderEpoch) {
		if (header == null) {
			return "unsigned";
		}
		int comma = header.indexOf(",s=");
		if (!header.startsWith("t=") || comma < 0) {
			return "malformed signature";
		}
		long timestamp;
		try {
			timestamp = Long.parseLong(header.substring(2, comma));
		}
		catch (NumberFormatException ex) {
			return "malformed signature";
		}
		if (Math.abs(this.clock.millis() - timestamp) > this.maxAge.toMillis()) {
			return "signature too old";
		}
		byte[] given = header.substring(comma + 3).getBytes(StandardCharsets.US_ASCII);
		for (Key key : this.acceptedKeys) {
			byte[] expected = key.mac(method, pathAndQuery, sessionId, senderEpoch, timestamp)
				.getBytes(StandardCharsets.US_ASCII);
			if (MessageDigest.isEqual(expected, given)) {
				return null;
			}
		}
		return "bad signature";
	}

	/**
	 * One secret, with a keyed {@link Mac} per thread: {@code Mac.getInstance} and {@code init} cost more than the MAC
	 * of a short message, and they ran twice per forwarded request (sender and receiver).
	 */
	private static final class Key {

		private final ThreadLocal<Mac> macs;

		Key(SecretKeySpec secret) {
			this.macs = ThreadLocal.withInitial(() -> {
				try {
					Mac mac = Mac.getInstance(ALGORITHM);
					mac.init(secret);
					return mac;
				}
				catch (NoSuchAlgorithmException | InvalidKeyException ex) {
					throw new IllegalStateException("HmacSHA256 is required of every Java platform", ex);
				}
			});
		}

		String mac(String method, String pathAndQuery, String sessionId, String senderEpoch, long timestamp) {
			String signed = method + "\n" + pathAndQuery + "\n" + sessionId + "\n" + senderEpoch + "\n" + timestamp;
			// doFinal leaves the Mac initialized with the same key, ready for the next message.
			byte[] digest = this.macs.get().doFinal(signed.getBytes(StandardCharsets.UTF_8));
			return Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
		}

	}

}
