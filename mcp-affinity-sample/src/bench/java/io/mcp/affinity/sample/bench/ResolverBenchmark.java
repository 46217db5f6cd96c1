package io.mcp.affinity.sample.bench;

import java.net.URI;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.OwnerResolution;
import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.core.SessionOwnerResolver;
import io.mcp.affinity.core.TwoTierOwnershipStore;
import io.mcp.affinity.core.memory.SingleInstanceRegistry;
import io.mcp.affinity.core.redis.RedisInstanceRegistry;
import io.mcp.affinity.core.redis.RedisOwnershipStore;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.springframework.data.redis.connection.RedisStandaloneConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;

/**
 * Benchmark group 4 (the store): what {@link SessionOwnerResolver#resolve} costs a request on an L1 hit, and on an L1
 * miss that Redis on loopback answers. Run by {@code AffinityBenchmarkIT} against its embedded Redis; on its own,
 * point {@link #redisPort} at a Redis that may be written to (keys under {@code bench:}).
 */
@State(Scope.Benchmark)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ResolverBenchmark {

	private static final Duration TIME_TO_LIVE = Duration.ofMinutes(30);

	private static final Duration OPERATION_TIMEOUT = RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT;

	/** Port of the Redis on 127.0.0.1 to measure against. */
	@Param("6379")
	public int redisPort;

	private LettuceConnectionFactory factory;

	private SessionOwnerResolver withL1;

	private SessionId localSession;

	private SessionOwnerResolver redisOnly;

	private SessionId remoteSession;

	@Setup(Level.Trial)
	public void start() {
		this.factory = new LettuceConnectionFactory(new RedisStandaloneConfiguration("127.0.0.1", this.redisPort));
		this.factory.afterPropertiesSet();
		this.factory.start();
		// Connected and loaded before any call with a timeout: a cold first call would time out on a busy machine and
		// leave the two-tier store degraded, measuring the wrong thing.
		ReactiveStringRedisTemplate template = new ReactiveStringRedisTemplate(this.factory);
		template.hasKey("bench:warm-up").block(Duration.ofSeconds(30));
		InstanceIdentity self = InstanceIdentity.create(URI.create("http://127.0.0.1:1"));

		// As configured in production, with the default refresh interval: a hot local session is answered from L1.
		TwoTierOwnershipStore twoTier = new TwoTierOwnershipStore(self.epoch(),
				new RedisOwnershipStore(template, "bench:", TIME_TO_LIVE, OPERATION_TIMEOUT), TIME_TO_LIVE);
		this.withL1 = new SessionOwnerResolver(self, twoTier, new SingleInstanceRegistry(self));
		this.localSession = SessionId.of(UUID.randomUUID().toString());
		if (!this.withL1.claim(this.localSession).block() || twoTier.isDegraded()) {
			throw new IllegalStateException("Could not claim " + this.localSession + " in Redis");
		}

		// No L1: every look-up is a Redis GET. The owner is another live instance, which the registry keeps in its
		// liveness cache (a minute here), so the registry adds no round trip.
		InstanceIdentity owner = InstanceIdentity.create(URI.create("http://127.0.0.1:2"));
		RedisInstanceRegistry registry = new RedisInstanceRegistry(template, "bench:", Duration.ofMinutes(3),
				Duration.ofMinutes(1), OPERATION_TIMEOUT);
		registry.heartbeat(owner).block();
		RedisOwnershipStore store = new RedisOwnershipStore(template, "bench:", TIME_TO_LIVE, OPERATION_TIMEOUT);
		this.redisOnly = new SessionOwnerResolver(self, store, registry);
		this.remoteSession = SessionId.of(UUID.randomUUID().toString());
		store.claim(this.remoteSession, owner.epoch()).block();
		if (this.redisOnly.resolve(this.remoteSession).block().kind() != OwnerResolution.Kind.REMOTE) {
			throw new IllegalStateException("Expected " + this.remoteSession + " to resolve to " + owner);
		}
	}

	@TearDown(Level.Trial)
	public void stop() {
		this.factory.destroy();
	}

	/**
	 * A request for a session this instance owns, found in L1. {@code block()} is included on purpose: it is what a
	 * caller pays to get the answer, and it is where Reactor's per-call subscription cost shows.
	 */
	@Benchmark
	@BenchmarkMode(Mode.AverageTime)
	@OutputTimeUnit(TimeUnit.NANOSECONDS)
	public OwnerResolution l1Hit() {
		return this.withL1.resolve(this.localSession).block();
	}

	/** A request for a session another instance owns, looked up in Redis on loopback: one GET per call. */
	@Benchmark
	@BenchmarkMode(Mode.SampleTime)
	@OutputTimeUnit(TimeUnit.MICROSECONDS)
	public OwnerResolution redisServed() {
		return this.redisOnly.resolve(this.remoteSession).block();
	}

}
