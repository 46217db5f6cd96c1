package io.mcp.affinity.core.redis;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.InstanceRegistry;
import io.mcp.affinity.core.OwnershipStoreUnavailableException;
import org.jspecify.annotations.Nullable;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.data.redis.core.script.RedisScript;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The {@link InstanceRegistry} in Redis. Each instance keeps {@code <prefix>{instances}:<epoch>} holding its address
 * with a time-to-live that its heartbeat renews; a hash {@code <prefix>{instances}} lists them for operators. The
 * braces keep all registry keys in one Redis Cluster slot, so the heartbeat script may touch them together.
 * <p>
 * Live look-ups are cached briefly in memory: the request path asks about the same few owners over and over. Past
 * that time, an instance seen live less than a heartbeat time-to-live ago is still answered from memory while Redis is
 * asked again in the background, so the request path does not wait for Redis to confirm an owner it already knows.
 * <p>
 * Each heartbeat also lists the live instances ({@link #refreshLiveInstances}): an instance the latest listing named
 * is answered from memory with no look-up at all, however old that listing (while Redis does not answer, what it said
 * last stands: a forward to an instance that is gone is refused), and an instance it no longer names is left to
 * {@link #findLive}. A run the listing shows replaced by another at its address is dead at once.
 */
public final class RedisInstanceRegistry implements InstanceRegistry {

	/** Default time-to-live of a heartbeat: an instance silent this long is dead. */
	public static final Duration DEFAULT_HEARTBEAT_TIME_TO_LIVE = Duration.ofSeconds(15);

	/** Default wait before an instance missing from Redis is confirmed dead (see {@link #setConfirmationDelay}). */
	public static final Duration DEFAULT_CONFIRMATION_DELAY = Duration.ofMillis(5_500);

	/** Default time a live look-up is trusted without asking Redis again. */
	public static final Duration DEFAULT_LIVENESS_CACHE_TIME = Duration.ofSeconds(2);

	// Renew this instance; on its first registration (nothing to renew), drop earlier runs at the same address.
	private static final RedisScript<String> HEARTBEAT = RedisScript.of("""
			local previous = redis.call('GET', KEYS[1])
			redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
			redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
			if not previous then
			  local all = redis.call('HGETALL', KEYS[2])
			  for i = 1, #all, 2 do
			    if all[i + 1] == ARGV[1] and all[i] ~= ARGV[3] then
			      redis.call('HDEL', KEYS[2], all[i])
			      redis.call('DEL', KEYS[2] .. ':' .. all[i])
			    end
			  end
			  return 'registered'
			end
			return 'renewed'
			""", String.class);

	private final ReactiveStringRedisTemplate redis;

	private final String registryKey;

	private final String heartbeatTimeToLiveMillis;

	private final RedisCalls calls;

	private final long heartbeatTimeToLiveNanos;

	private Duration confirmationDelay = DEFAULT_CONFIRMATION_DELAY;

	private final Cache<String, InstanceIdentity> live;

	// Every instance seen live, and when: an outage, or a Redis that lost its data, must not make live owners dead.
	private final Cache<String, Sighting> lastSeen = Caffeine.newBuilder()
		.expireAfterWrite(Duration.ofHours(1))
		.maximumSize(10_000)
		.build();

	// Epochs whose liveness is being confirmed in the background: one look-up each at a time.
	private final Set<String> revalidating = ConcurrentHashMap.newKeySet();

	// Runs a listing showed replaced by a newer run at the same address: dead for sure, whatever else was seen.
	private final Cache<String, Boolean> replaced = Caffeine.newBuilder()
		.expireAfterWrite(Duration.ofHours(1))
		.maximumSize(10_000)
		.build();

	// Whether the latest heartbeat or listing failed: then what Redis said last stands, whatever its age.
	private volatile boolean unanswered;

	// Whether this instance has registered before: registered again, it finds that Redis lost its key.
	private volatile boolean registeredBefore;

	// Whether a heartbeat found that Redis had lost this instance's key since the latest listing.
	private volatile boolean lostSinceListing;

	/**
	 * Creates a registry with the defaults.
	 * @param redis the Redis template
	 */
	public RedisInstanceRegistry(ReactiveStringRedisTemplate redis) {
		this(redis, RedisOwnershipStore.DEFAULT_KEY_PREFIX, DEFAULT_HEARTBEAT_TIME_TO_LIVE,
				DEFAULT_LIVENESS_CACHE_TIME, RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT);
	}

	/**
	 * Creates a registry.
	 * @param redis the Redis template
	 * @param keyPrefix prefix of every key
	 * @param heartbeatTimeToLive how long an instance stays live after its last heartbeat
	 * @param livenessCacheTime how long a positive live look-up is trusted in memory
	 * @param operationTimeout bound on every Redis call
	 */
	public RedisInstanceRegistry(ReactiveStringRedisTemplate redis, String keyPrefix, Duration heartbeatTimeToLive,
			Duration livenessCacheTime, Duration operationTimeout) {
		this.redis = Objects.requireNonNull(redis, "redis must not be null");
		this.registryKey = Objects.requireNonNull(keyPrefix, "keyPrefix must not be null") + "{instances}";
		this.heartbeatTimeToLiveMillis = Long.toString(heartbeatTimeToLive.toMillis());
		this.heartbeatTimeToLiveNanos = heartbeatTimeToLive.toNanos();
		this.calls = new RedisCalls(operationTimeout);
		this.live = Caffeine.newBuilder().expireAfterWrite(livenessCacheTime).maximumSize(10_000).build();
	}

	private String heartbeatKey(String epoch) {
		return this.registryKey + ":" + epoch;
	}

	@Override
	public Mono<Boolean> heartbeat(InstanceIdentity self) {
		List<String> keys = List.of(heartbeatKey(self.epoch()), this.registryKey);
		List<String> args = List.of(self.address().toString(), this.heartbeatTimeToLiveMillis, self.epoch());
		return this.calls.bounded("heartbeat", this.redis.execute(HEARTBEAT, keys, args).next())
			.map("registered"::equals)
			.doOnNext((registered) -> {
				if (registered && this.registeredBefore) {
					this.lostSinceListing = true;
				}
				this.registeredBefore = true;
			})
			.doOnError((ex) -> this.unanswered = true);
	}

	@Override
	public Mono<Void> refreshLiveInstances() {
		return liveInstances().collectList().doOnNext((listed) -> {
			long now = System.nanoTime();
			// After an outage, or when Redis lost its data, an instance it does not list may simply not have
			// registered again yet: its Redis client reconnects on a schedule of its own, possibly a back-off later
			// than this one's. The time Redis could not vouch for it does not count against it: it gets a whole
			// heartbeat time-to-live from now.
			boolean afterGap = this.unanswered || this.lostSinceListing;
			this.lostSinceListing = false;
			Set<String> epochs = new HashSet<>();
			Set<URI> addresses = new HashSet<>();
			for (InstanceIdentity instance : listed) {
				epochs.add(instance.epoch());
				addresses.add(instance.address());
				this.live.put(instance.epoch(), instance);
				this.lastSeen.put(instance.epoch(), new Sighting(instance, now, false, true));
			}
			for (Map.Entry<String, Sighting> seen : this.lastSeen.asMap().entrySet()) {
				String epoch = seen.getKey();
				Sighting sighting = seen.getValue();
				if (epochs.contains(epoch)) {
					continue;
				}
				this.live.invalidate(epoch);
				if (addresses.contains(sighting.instance().address())) {
					// Another run is live at its address: this one has restarted, and what it held is gone.
					this.replaced.put(epoch, Boolean.TRUE);
					this.lastSeen.invalidate(epoch);
				}
				else if (!sighting.missing()) {
					// Gone (expired or deregistered), or lost with Redis's data: findLive tells which.
					this.lastSeen.put(epoch, new Sighting(sighting.instance(), afterGap ? now : sighting.at(), true, false));
				}
			}
			this.unanswered = false;
		}).doOnError((ex) -> this.unanswered = true).then();
	}

	/**
	 * Sets how long to wait, and ask Redis once more, before an instance missing from it is declared dead: one
	 * heartbeat interval and a little more. A Redis that restarted empty may hold an instance's sessions again (the
	 * client replays what it queued during the outage) before that instance's next heartbeat has registered it.
	 * @param confirmationDelay the wait
	 */
	public void setConfirmationDelay(Duration confirmationDelay) {
		this.confirmationDelay = confirmationDelay;
	}

	@Override
	public Mono<InstanceIdentity> findLive(String epoch) {
		if (this.replaced.getIfPresent(epoch) != null) {
			return Mono.empty();
		}
		InstanceIdentity cached = this.live.getIfPresent(epoch);
		if (cached != null) {
			return Mono.just(cached);
		}
		return lookUp(epoch).switchIfEmpty(Mono.defer(() -> {
			// Seen live less than a heartbeat time-to-live ago, its key cannot have expired: it was lost with Redis's
			// data, and the instance registers again at its next heartbeat. (A deregistered or restarted instance is
			// caught anyway: its address refuses the forward, or answers 404 itself.)
			Sighting sighting = this.lastSeen.getIfPresent(epoch);
			if (sighting != null && System.nanoTime() - sighting.at() < this.heartbeatTimeToLiveNanos) {
				return Mono.just(sighting.instance());
			}
			// Never seen here: give it one heartbeat to register, then believe Redis.
			return Mono.delay(this.confirmationDelay).then(lookUp(epoch));
		})).onErrorResume(OwnershipStoreUnavailableException.class, (ex) -> {
			// Redis is down: an instance live before the outage is taken as live still (a dead one refuses the
			// forward, which removes its entry); one never seen cannot be placed.
			Sighting sighting = this.lastSeen.getIfPresent(epoch);
			return (sighting != null) ? Mono.just(sighting.instance()) : Mono.error(ex);
		});
	}

	/**
	 * {@inheritDoc}
	 * <p>
	 * Answers from the liveness cache, as {@link #findLive} does before it asks Redis; past the cache time, from an
	 * instance seen live less than a heartbeat time-to-live ago (as {@link #findLive} would when Redis does not list it)
	 * while Redis is asked again in the background.
	 */
	@Override
	public @Nullable InstanceIdentity findLiveInMemory(String epoch) {
		InstanceIdentity cached = this.live.getIfPresent(epoch);
		if (cached != null) {
			return cached;
		}
		Sighting sighting = this.lastSeen.getIfPresent(epoch);
		if (sighting == null || sighting.missing()) {
			return null;
		}
		if (sighting.listed() || this.unanswered) {
			// Named by the latest listing: the next one confirms it or drops it. If no listing succeeds any more (Redis
			// is slow or down), what Redis said last stands, and a forward to an instance that is gone is refused.
			return sighting.instance();
		}
		if (System.nanoTime() - sighting.at() >= this.heartbeatTimeToLiveNanos) {
			return null;
		}
		revalidate(epoch, sighting);
		return sighting.instance();
	}

	private void revalidate(String epoch, Sighting sighting) {
		if (!this.revalidating.add(epoch)) {
			return;
		}
		lookUp(epoch).hasElement().doFinally((signal) -> this.revalidating.remove(epoch)).subscribe((found) -> {
			if (!found) {
				// Redis no longer lists it: from now on only findLive decides, under its rules.
				this.lastSeen.put(epoch, new Sighting(sighting.instance(), sighting.at(), true, false));
			}
		}, (ex) -> {
			// Redis did not answer: an instance live before is taken as live still, as findLive does in an outage.
			this.live.put(epoch, sighting.instance());
		});
	}

	private Mono<InstanceIdentity> lookUp(String epoch) {
		return this.calls.bounded("instance look-up", this.redis.opsForValue().get(heartbeatKey(epoch)))
			.map((address) -> new InstanceIdentity(URI.create(address), epoch))
			.doOnNext((instance) -> {
				this.live.put(epoch, instance);
				this.lastSeen.put(epoch, new Sighting(instance, System.nanoTime(), false, false));
			});
	}

	@Override
	public Flux<InstanceIdentity> liveInstances() {
		return this.calls.bounded("instance listing", this.redis.<String, String>opsForHash()
			.entries(this.registryKey)
			.collectList()
			.flatMap(this::keepLive))
			.flatMapMany(Flux::fromIterable);
	}

	// Lists only entries whose heartbeat still exists, and prunes the hash of the others.
	private Mono<List<InstanceIdentity>> keepLive(List<Map.Entry<String, String>> registered) {
		if (registered.isEmpty()) {
			return Mono.just(List.of());
		}
		List<String> keys = registered.stream().map((entry) -> heartbeatKey(entry.getKey())).toList();
		return this.redis.opsForValue().multiGet(keys).flatMap((addresses) -> {
			List<InstanceIdentity> live = new ArrayList<>();
			List<Object> dead = new ArrayList<>();
			for (int i = 0; i < registered.size(); i++) {
				String epoch = registered.get(i).getKey();
				if (addresses.get(i) != null) {
					live.add(new InstanceIdentity(URI.create(addresses.get(i)), epoch));
				}
				else {
					dead.add(epoch);
				}
			}
			Mono<Long> prune = dead.isEmpty() ? Mono.just(0L)
					: this.redis.opsForHash().remove(this.registryKey, dead.toArray());
			return prune.thenReturn(live);
		});
	}

	@Override
	public Mono<Void> markDraining(InstanceIdentity self) {
		return this.calls.bounded("draining mark", this.redis.opsForValue()
			.set(drainingKey(self.epoch()), self.address().toString(), Duration.ofNanos(this.heartbeatTimeToLiveNanos)))
			.then();
	}

	@Override
	public Flux<String> drainingEpochs() {
		return this.calls.bounded("draining listing", this.redis.<String, String>opsForHash()
			.keys(this.registryKey)
			.collectList()
			.flatMap((epochs) -> epochs.isEmpty() ? Mono.just(List.<String>of())
					: this.redis.opsForValue().multiGet(epochs.stream().map(this::drainingKey).toList()).map((marks) -> {
						List<String> draining = new ArrayList<>();
						for (int i = 0; i < epochs.size(); i++) {
							if (marks.get(i) != null) {
								draining.add(epochs.get(i));
							}
						}
						return draining;
					})))
			.flatMapMany(Flux::fromIterable);
	}

	private String drainingKey(String epoch) {
		return this.registryKey + ":draining:" + epoch;
	}

	/**
	 * When an instance was last seen live.
	 * @param instance the instance
	 * @param at when
	 * @param missing whether Redis has not listed it since
	 * @param listed whether a listing of the live instances named it
	 */
	private record Sighting(InstanceIdentity instance, long at, boolean missing, boolean listed) {
	}

	@Override
	public Mono<Void> deregister(InstanceIdentity self) {
		this.live.invalidate(self.epoch());
		this.lastSeen.invalidate(self.epoch());
		return this.calls.bounded("deregister", this.redis.delete(heartbeatKey(self.epoch()), drainingKey(self.epoch()))
			.then(this.redis.opsForHash().remove(this.registryKey, self.epoch())))
			.then();
	}

}
