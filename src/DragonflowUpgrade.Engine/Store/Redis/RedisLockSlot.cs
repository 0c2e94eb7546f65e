using System;
using StackExchange.Redis;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// The upgrade lock in Redis: one key, taken with SET NX PX so that it expires by itself,
    /// replaced and deleted by scripts that compare its value first. Its single-key atomic
    /// commands go through StackExchange.Redis, connected when first used and usable from any
    /// thread (the lock's heartbeat).
    /// </summary>
    sealed class RedisLockSlot : ILockSlot
    {
        const string ReplaceScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";
        const string DeleteScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end return 0";
        readonly Func<IDatabase> _db;
        readonly RedisKey _key;
        readonly string _location;

        public RedisLockSlot(Func<IDatabase> db, NbKey key, string location)
        {
            _db = db;
            _key = RedisKeys.Format(key);
            _location = location;
        }

        public string Where => $"{_location} key {_key}";

        public bool TryCreate(string value, TimeSpan ttl) => Do(db => db.StringSet(_key, value, ttl, When.NotExists));
        public string? Read() => Do(db => (string?)db.StringGet(_key));
        public bool Replace(string expected, string value, TimeSpan ttl) =>
            Do(db => (int)db.ScriptEvaluate(ReplaceScript, new[] { _key }, new RedisValue[] { expected, value, (long)ttl.TotalMilliseconds }) == 1);
        public bool Delete(string expected) =>
            Do(db => (int)db.ScriptEvaluate(DeleteScript, new[] { _key }, new RedisValue[] { expected }) == 1);

        T Do<T>(Func<IDatabase, T> op)
        {
            try { return op(_db()); }
            catch (RedisException e) { throw Failure(e); }
            catch (TimeoutException e) { throw Failure(e); }
        }

        // StackExchange.Redis appends its connection state to messages: keep the sentence before it.
        NbStoreException Failure(Exception e) =>
            new NbStoreException($"Could not use the upgrade lock of the Redis NB database at {_location}: {e.Message.Split('\n')[0].Split(';')[0]}.", e);
    }
}
