package io.mcp.affinity.core.redis;

import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.core.test.AbstractOwnershipStoreContractTests;
import io.mcp.affinity.core.test.RedisConnections;
import io.mcp.affinity.core.test.TestRedis;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;

import static org.assertj.core.api.Assertions.assertThat;

class RedisOwnershipStoreTests extends AbstractOwnershipStoreContractTests {

	@RegisterExtension
	final RedisConnections connections = new RedisConnections();

	private final String keyPrefix = TestRedis.uniquePrefix();

	@Override
	protected OwnershipStore createStore(String localEpoch) {
		return new RedisOwnershipStore(this.connections.template(), this.keyPrefix, TIME_TO_LIVE,
				RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT);
	}

	@Test
	void entryIsOneCompactStringUnderThePrefixWithATimeToLive() {
		ReactiveStringRedisTemplate redis = this.connections.template();
		RedisOwnershipStore store = new RedisOwnershipStore(redis, this.keyPrefix, TIME_TO_LIVE,
				RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT);
		SessionId session = newSession();
		store.claim(session, "Zx81AbCdEfGh").block();
		String key = this.keyPrefix + "session:" + session.value();
		assertThat(store.key(session)).isEqualTo(key);
		assertThat(redis.opsForValue().get(key).block()).isEqualTo("Zx81AbCdEfGh");
		assertThat(redis.getExpire(key).block()).isPositive().isLessThanOrEqualTo(TIME_TO_LIVE);
	}

}
