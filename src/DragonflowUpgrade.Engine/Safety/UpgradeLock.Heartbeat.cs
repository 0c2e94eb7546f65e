using System;
using System.Threading;

namespace DragonflowUpgrade.Engine.Safety
{
    // The renewal: a run's lock is kept alive by a thread of its own that pushes its expiry back.
    public sealed partial class UpgradeLock
    {
        static UpgradeLock Started(UpgradeLock l, bool heartbeat)
        {
            if (heartbeat)
            {
                // A thread of its own, not a pool thread: a beat blocks on the store, and the store's replies need the pool.
                var stop = l._stopBeating = new ManualResetEventSlim();
                var period = TimeSpan.FromTicks(l._ttl.Ticks / 4);
                new Thread(() => { while (!stop.Wait(period)) l.Beat(); }) { IsBackground = true, Name = "Upgrade lock heartbeat" }.Start();
            }
            return l;
        }

        // Runs on the heartbeat thread: it must not log (the cmdlets' logger writes to the pipeline) nor throw.
        void Beat()
        {
            lock (_gate)
            {
                if (_released || Lost) return;
                try
                {
                    var next = Info.ExtendedAtLeast(_ttl);
                    string json = next.ToJson();
                    if (_slot.Replace(_current, json, next.ExpiresAt - DateTimeOffset.UtcNow)) { _current = json; Info = next; }
                    else Lost = true;
                }
                catch (Exception) { } // the next beat tries again; the lock outlives a few misses
            }
        }
    }
}
