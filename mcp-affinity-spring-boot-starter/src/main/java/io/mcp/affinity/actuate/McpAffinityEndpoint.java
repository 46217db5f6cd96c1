package io.mcp.affinity.actuate;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.InstanceRegistry;
import io.mcp.affinity.core.InvalidSessionIdException;
import io.mcp.affinity.core.OwnershipMode;
import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.RoutedSessionId;
import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.core.SessionOwnerResolver;
import io.mcp.affinity.core.TwoTierOwnershipStore;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.WriteOperation;

/**
 * The {@code mcpaffinity} Actuator endpoint: this instance's identity, the live instances, the sessions it owns and
 * the state of the distributed store (GET); and, for an operator, the owner of one session (POST with a
 * {@code sessionId}, so the id stays out of URLs and access logs). Look-ups here change nothing: no expiry is slid,
 * no stale entry removed.
 */
@Endpoint(id = "mcpaffinity")
public class McpAffinityEndpoint {

	private static final Duration TIMEOUT = Duration.ofSeconds(2);

	private final InstanceIdentity self;

	private final SessionOwnerResolver resolver;

	private final OwnershipStore store;

	private final InstanceRegistry registry;

	private final BooleanSupplier registryReachable;

	public McpAffinityEndpoint(SessionOwnerResolver resolver, OwnershipStore store, InstanceRegistry registry,
			BooleanSupplier registryReachable) {
		this.resolver = resolver;
		this.self = resolver.self();
		this.store = store;
		this.registry = registry;
		this.registryReachable = registryReachable;
	}

	@ReadOperation
	public Map<String, Object> describe() {
		Map<String, Object> description = new LinkedHashMap<>();
		description.put("instance", instance(this.self));
		OwnershipMode mode = this.resolver.ownershipMode();
		description.put("ownership", (mode == OwnershipMode.SESSION_ID) ? "session-id" : "store");
		if (mode == OwnershipMode.SESSION_ID) {
			// Sessions created here under an id that names this instance: in memory only, never in the store.
			description.put("routedSessions", this.resolver.routedSessionCount());
		}
		// An operator's view must answer while Redis does not: what Redis cannot tell in time is shown empty.
		List<Map<String, String>> live = this.registry.liveInstances()
			.map(McpAffinityEndpoint::instance)
			.collectList()
			.timeout(TIMEOUT)
			.onErrorReturn(List.of())
			.block();
		description.put("liveInstances", live);
		description.put("draining",
				this.registry.drainingEpochs().collectList().timeout(TIMEOUT).onErrorReturn(List.of()).block());
		Map<String, Object> store = new LinkedHashMap<>();
		if (this.store instanceof TwoTierOwnershipStore twoTier) {
			TwoTierOwnershipStore.Statistics statistics = twoTier.statistics();
			store.put("type", "redis");
			store.put("l2", (twoTier.isDegraded() || !this.registryReachable.getAsBoolean()) ? "degraded" : "up");
			store.put("ownedSessions", twoTier.localSessionCount());
			store.put("l1Hits", statistics.l1Hits());
			store.put("l2Hits", statistics.l2Hits());
			store.put("l2Misses", statistics.l2Misses());
			store.put("l2Errors", statistics.l2Errors());
			store.put("degradedTime", statistics.degradedTime().toString());
		}
		else {
			store.put("type", "memory");
		}
		description.put("store", store);
		return description;
	}

	/**
	 * Looks up the owner of one session, given either kind of id: one that names its owner (session-id ownership) is
	 * read, any other is looked up in the store.
	 * @param sessionId the session id
	 * @return the session (redacted), its owner's epoch and address, and whether that owner is live
	 */
	@WriteOperation
	public Map<String, Object> owner(String sessionId) {
		Map<String, Object> answer = new LinkedHashMap<>();
		SessionId id;
		try {
			id = SessionId.of(sessionId);
		}
		catch (InvalidSessionIdException ex) {
			answer.put("error", ex.getMessage());
			return answer;
		}
		answer.put("session", id.toString());
		@Nullable String epoch;
		@Nullable InstanceIdentity owner;
		RoutedSessionId routed = RoutedSessionId.parse(id);
		answer.put("ownership", (routed != null) ? "session-id" : "store");
		try {
			epoch = (routed != null) ? routed.ownerEpoch() : this.store.findOwner(id).timeout(TIMEOUT).block();
			if (epoch == null) {
				answer.put("owner", null);
				return answer;
			}
			owner = this.registry.findLive(epoch).timeout(TIMEOUT).block();
		}
		catch (RuntimeException ex) {
			answer.put("error", "the store did not answer in time; retry shortly");
			return answer;
		}
		answer.put("owner", epoch);
		answer.put("ownerAddress", (owner != null) ? owner.address().toString() : null);
		answer.put("ownerLive", owner != null);
		answer.put("local", epoch.equals(this.self.epoch()));
		return answer;
	}

	private static Map<String, String> instance(InstanceIdentity identity) {
		return Map.of("address", identity.address().toString(), "epoch", identity.epoch());
	}

}
