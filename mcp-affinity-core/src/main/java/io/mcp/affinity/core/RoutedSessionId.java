package io.mcp.affinity.core;

import java.util.Objects;

import org.jspecify.annotations.Nullable;

/**
 * A session id that names its owner: {@code ~<owner token>~<transport id>}, where the token is the owner's epoch in
 * base 36 and the transport id is the id the owner's MCP transport minted. The client only ever sees this form; the
 * transport, and the application's tools, only ever see theirs.
 * <p>
 * The token names a run, not an address: a target is always looked up in the instance registry, so no id a client
 * crafts can make an instance call an address of the client's choosing, and a restarted instance (a new epoch) knows
 * at once that an id of its previous run is not its own. The id is as unguessable as the transport's id it carries.
 *
 * @param ownerEpoch the epoch of the instance that owns the session
 * @param transportId the id the owner's MCP transport knows the session by
 */
public record RoutedSessionId(String ownerEpoch, String transportId) {

	private static final char MARK = '~';

	private static final int RADIX = 36;

	// A 63-bit epoch takes at most 13 base-36 digits.
	private static final int MAX_TOKEN_LENGTH = 13;

	public RoutedSessionId {
		Objects.requireNonNull(ownerEpoch, "ownerEpoch must not be null");
		Objects.requireNonNull(transportId, "transportId must not be null");
	}

	/**
	 * Whether an instance of this epoch can own routed ids: epochs are minted as non-negative decimal numbers (see
	 * {@link InstanceIdentity#create}); one given otherwise cannot be written as a token.
	 * @param epoch the epoch
	 * @return whether {@link #of} accepts it
	 */
	public static boolean canName(String epoch) {
		return parseToken(epoch, 10) != null;
	}

	/**
	 * The routed id of a session a transport minted, when it fits the limits of a session id.
	 * @param ownerEpoch the owner's epoch (see {@link #canName})
	 * @param transportId the transport's id
	 * @return the routed id, or {@code null} when the result would not be a valid session id (too long, or the
	 * transport's id has characters a session id may not have)
	 */
	public static @Nullable SessionId of(String ownerEpoch, String transportId) {
		Long epoch = parseToken(ownerEpoch, 10);
		if (epoch == null) {
			throw new IllegalArgumentException("Epoch '" + ownerEpoch + "' is not a non-negative decimal number");
		}
		String routed = MARK + Long.toString(epoch, RADIX) + MARK + transportId;
		try {
			return SessionId.of(routed);
		}
		catch (InvalidSessionIdException ex) {
			return null;
		}
	}

	/**
	 * Reads the owner from a session id, if it names one.
	 * @param sessionId a session id as a client sent it
	 * @return the owner and the transport's id, or {@code null} for an id that names no owner (the transport's own id,
	 * routed through the store)
	 */
	public static @Nullable RoutedSessionId parse(SessionId sessionId) {
		String value = sessionId.value();
		if (value.charAt(0) != MARK) {
			return null;
		}
		int end = value.indexOf(MARK, 1);
		if (end < 2 || end > MAX_TOKEN_LENGTH + 1 || end == value.length() - 1) {
			return null;
		}
		Long epoch = parseToken(value.substring(1, end), RADIX);
		return (epoch != null) ? new RoutedSessionId(Long.toString(epoch), value.substring(end + 1)) : null;
	}

	// Only the canonical form of a number: lowercase digits, no sign, no leading zero.
	private static @Nullable Long parseToken(String token, int radix) {
		if (token.length() > 1 && token.charAt(0) == '0') {
			return null;
		}
		for (int i = 0; i < token.length(); i++) {
			char c = token.charAt(i);
			if (!((c >= '0' && c <= '9') || (radix > 10 && c >= 'a' && c <= 'z'))) {
				return null;
			}
		}
		try {
			return Long.parseLong(token, radix);
		}
		catch (NumberFormatException ex) {
			return null;
		}
	}

	@Override
	public String toString() {
		return "RoutedSessionId[owner=" + this.ownerEpoch + ", transportId=" + SessionId.redact(this.transportId) + "]";
	}

}
