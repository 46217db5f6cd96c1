package io.mcp.affinity.core;

import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Mono;

/**
 * Where session ownership is recorded: session id to the epoch of the owning instance (see
 * {@link InstanceIdentity#epoch()}). Entries expire after a period without {@link #refresh refresh}.
 * <p>
 * Implementations signal {@link OwnershipStoreUnavailableException} when their backing service cannot answer in
 * time; they never block the caller.
 */
public interface OwnershipStore {

	/**
	 * Claims a session for an owner unless another owner holds it. Atomic: of concurrent claims of one session on
	 * one shared store, exactly one wins. Claiming again for the current owner renews the entry.
	 * @param sessionId the session
	 * @param ownerEpoch the epoch of the claiming instance
	 * @return the epoch of the owner after the call: {@code ownerEpoch} when the claim won
	 */
	Mono<String> claim(SessionId sessionId, String ownerEpoch);

	/**
	 * Looks up the owner of a session.
	 * @param sessionId the session
	 * @return the owner's epoch, or empty when no live entry exists
	 */
	Mono<String> findOwner(SessionId sessionId);

	/**
	 * Looks up the owner of a session in memory only, for the request path: an answer given here spares the caller
	 * assembling and subscribing a reactive pipeline. A store answers only when that takes no I/O, now or because of
	 * the answer: for a session {@code callerEpoch} owns, the caller skips {@link #refresh}, so the store answers only
	 * while it can do what refreshing needs without I/O (typically: no refresh is due yet).
	 * <p>
	 * The default knows nothing in memory.
	 * @param sessionId the session
	 * @param callerEpoch the epoch of the calling instance, which refreshes the sessions it owns on every use
	 * @return the owner's epoch, as {@link #findOwner} would emit it; {@code null} when only {@link #findOwner} can
	 * tell (not held in memory, no live entry, or a refresh that needs I/O is due)
	 */
	default @Nullable String findOwnerInMemory(SessionId sessionId, String callerEpoch) {
		return null;
	}

	/**
	 * Slides the expiry of an entry that the given owner holds; never touches an entry another owner holds. A shared
	 * store may recreate the entry if it lost it (a restarted Redis). Implementations may throttle the writes this
	 * causes.
	 * @param sessionId the session
	 * @param ownerEpoch the epoch of the owning instance
	 * @return completion
	 */
	Mono<Void> refresh(SessionId sessionId, String ownerEpoch);

	/**
	 * Removes an entry if, and only if, the given owner still holds it, so a stale owner is never confused with a
	 * newer one.
	 * @param sessionId the session
	 * @param ownerEpoch the epoch expected to hold it
	 * @return whether an entry was removed
	 */
	Mono<Boolean> release(SessionId sessionId, String ownerEpoch);

}
