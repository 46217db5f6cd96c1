package io.mcp.affinity.core.redis;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.core.test.AbstractOwnershipStoreContractTests;
import io.mcp.affinity.core.test.RedisConnections;
import io.mcp.affinity.core.test.TestRedis;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.data.redis.core.ScanOptions;

import static org.assertj.core.api.Assertions.assertThat;

class RedisOwnershipStoreTests extends AbstractOwnershipStoreContractTests {

	private static final Duration OPERATION_TIMEOUT = RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT;

	@RegisterExtension
	final RedisConnections connections = new RedisConnections();

	private final String keyPrefix = TestRedis.uniquePrefix();

	@Override
	protected OwnershipStore createStore(String localEpoch) {
		return new RedisOwnershipStore(this.connections.template(), this.keyPrefix, TIME_TO_LIVE,
				OPERATION_TIMEOUT);
	}

	@Test
	void entryIsOneCompactStringUnderThePrefixWithATimeToLive() {
		ReactiveStringRedisTemplate redis = this.connections.template();
		RedisOwnershipStore store = new RedisOwnershipStore(redis, this.keyPrefix, TIME_TO_LIVE,
				OPERATION_TIMEOUT);
		SessionId session = newSession();
		store.claim(session, "Zx81AbCdEfGh").block();
		String key = this.keyPrefix + "session:" + SessionKeys.digest(session);
		assertThat(store.key(session)).isEqualTo(key);
		assertThat(redis.opsForValue().get(key).block()).isEqualTo("Zx81AbCdEfGh");
		assertThat(redis.getExpire(key).block()).isPositive().isLessThanOrEqualTo(TIME_TO_LIVE);
	}

	@Test
	void anEntryNamingAMintedEpochIsStoredAsAnInteger() {
		ReactiveStringRedisTemplate redis = this.connections.template();
		RedisOwnershipStore store = new RedisOwnershipStore(redis, this.keyPrefix, TIME_TO_LIVE,
				OPERATION_TIMEOUT);
		String epoch = InstanceIdentity.create(URI.create("http://127.0.0.1:8080")).epoch();
		SessionId session = newSession();
		store.claim(session, epoch).block();
		// Redis keeps a value that reads as an integer as the integer itself: 16 bytes less than a short string.
		String encoding = redis.execute((connection) -> connection.keyCommands()
			.encodingOf(ByteBuffer.wrap(store.key(session).getBytes(StandardCharsets.UTF_8))))
			.blockFirst()
			.raw();
		assertThat(encoding).isEqualTo("int");
		assertThat(store.findOwner(session).block()).isEqualTo(epoch);
	}

	@Test
	void noKeyInRedisHoldsARawSessionId() {
		ReactiveStringRedisTemplate redis = this.connections.template();
		RedisOwnershipStore store = new RedisOwnershipStore(redis, this.keyPrefix, TIME_TO_LIVE.multipliedBy(20),
				OPERATION_TIMEOUT);
		List<SessionId> sessions = IntStream.range(0, 500).mapToObj((i) -> newSession()).toList();
		sessions.forEach((session) -> store.claim(session, "Zx81AbCdEfGh").block());
		// The whole server, not just this prefix: no key anywhere may give a live id away.
		List<String> allKeys = redis.scan(ScanOptions.scanOptions().count(1000).build()).collectList().block();
		for (SessionId session : sessions) {
			assertThat(allKeys).noneMatch((key) -> key.contains(session.value()));
		}
		Set<String> ours = allKeys.stream().filter((key) -> key.startsWith(this.keyPrefix)).collect(Collectors.toSet());
		assertThat(ours).hasSize(sessions.size())
			.allMatch((key) -> key.length() == this.keyPrefix.length() + "session:".length() + 22)
			.allMatch((key) -> key.substring(this.keyPrefix.length()).matches("session:[A-Za-z0-9_-]{22}"));
		// One key per session: no two of the sample share one.
		assertThat(sessions.stream().map(store::key).collect(Collectors.toSet())).isEqualTo(ours);
		sessions.forEach((session) -> assertThat(store.findOwner(session).block()).isEqualTo("Zx81AbCdEfGh"));
	}

}
