package io.mcp.affinity.actuate;

import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.RoutedSessionId;
import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.core.SessionOwnerResolver;
import io.mcp.affinity.core.TwoTierOwnershipStore;
import io.mcp.affinity.core.redis.RedisInstanceRegistry;
import io.mcp.affinity.core.redis.RedisOwnershipStore;
import io.mcp.affinity.core.redis.SessionKeys;
import io.mcp.affinity.core.test.RedisConnections;
import io.mcp.affinity.core.test.TestRedis;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;

class McpAffinityEndpointTests {

	private static final Duration TIME_TO_LIVE = Duration.ofMinutes(1);

	private static final Duration TIMEOUT = Duration.ofSeconds(1);

	@RegisterExtension
	final RedisConnections connections = new RedisConnections();

	private final String keyPrefix = TestRedis.uniquePrefix();

	private final InstanceIdentity owner = InstanceIdentity.create(URI.create("http://10.0.0.1:8081"));

	private final InstanceIdentity self = InstanceIdentity.create(URI.create("http://10.0.0.2:8081"));

	@Test
	void ownerLookUpFindsASessionClaimedByAnotherInstanceThroughItsRedisKey() {
		SessionId session = SessionId.of(UUID.randomUUID().toString());
		store(this.owner).claim(session, this.owner.epoch()).block();
		registry().heartbeat(this.owner).block();
		String key = this.keyPrefix + "session:" + SessionKeys.digest(session);
		assertThat(this.connections.template().opsForValue().get(key).block()).isEqualTo(this.owner.epoch());
		// A fresh store, so the answer comes from Redis, not from an L1 that saw the claim.
		McpAffinityEndpoint endpoint = endpoint();
		Map<String, Object> answer = endpoint.owner(session.value());
		assertThat(answer).containsEntry("session", session.toString())
			.containsEntry("owner", this.owner.epoch())
			.containsEntry("ownerAddress", "http://10.0.0.1:8081")
			.containsEntry("ownerLive", true)
			.containsEntry("local", false);
		assertThat(answer.toString()).doesNotContain(session.value());
	}

	@Test
	void ownerLookUpOfAnUnknownSessionAnswersNoOwner() {
		McpAffinityEndpoint endpoint = endpoint();
		assertThat(endpoint.owner(UUID.randomUUID().toString())).containsEntry("owner", null);
	}

	@Test
	void ownerLookUpReadsTheOwnerFromAnIdThatNamesItWithoutAnyStoreEntry() {
		String transportId = UUID.randomUUID().toString();
		SessionId routed = RoutedSessionId.of(this.owner.epoch(), transportId);
		registry().heartbeat(this.owner).block();
		Map<String, Object> answer = endpoint().owner(routed.value());
		assertThat(answer).containsEntry("ownership", "session-id")
			.containsEntry("owner", this.owner.epoch())
			.containsEntry("ownerAddress", "http://10.0.0.1:8081")
			.containsEntry("ownerLive", true)
			.containsEntry("local", false);
		assertThat(answer.toString()).doesNotContain(transportId);
		// The same transport id without the owner's token is an unknown session.
		assertThat(endpoint().owner(transportId)).containsEntry("ownership", "store").containsEntry("owner", null);
	}

	private McpAffinityEndpoint endpoint() {
		TwoTierOwnershipStore store = store(this.self);
		RedisInstanceRegistry registry = registry();
		return new McpAffinityEndpoint(new SessionOwnerResolver(this.self, store, registry), store, registry,
				() -> true);
	}

	private TwoTierOwnershipStore store(InstanceIdentity instance) {
		return new TwoTierOwnershipStore(instance.epoch(),
				new RedisOwnershipStore(this.connections.template(), this.keyPrefix, TIME_TO_LIVE, TIMEOUT),
				TIME_TO_LIVE);
	}

	private RedisInstanceRegistry registry() {
		return new RedisInstanceRegistry(this.connections.template(), this.keyPrefix, TIME_TO_LIVE,
				RedisInstanceRegistry.DEFAULT_LIVENESS_CACHE_TIME, TIMEOUT);
	}

}
