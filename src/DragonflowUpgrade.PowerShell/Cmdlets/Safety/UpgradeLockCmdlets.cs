using System;
using System.Management.Automation;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using DragonflowUpgrade.PowerShell.Output;

namespace DragonflowUpgrade.PowerShell.Cmdlets.Safety
{
    /// <summary>
    /// Who holds the database's upgrade lock; nothing when it is free. The noun is the one of
    /// Lock- and Unlock-DfNbDatabase; the cmdlet's former name stays an alias for runbooks.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "DfNbDatabaseLock")]
    [Alias("Get-DfUpgradeLock")]
    [OutputType(typeof(DfUpgradeLock))]
    public sealed class GetDfNbDatabaseLock : DfSafetyCmdlet
    {
        protected override void Process(INbStore store)
        {
            var held = UpgradeLock.Read(store);
            if (held != null) WriteObject(new DfUpgradeLock(held, Database));
        }
    }

    /// <summary>
    /// Takes the upgrade lock for this PowerShell session, e.g. for the length of a whole cloud
    /// upgrade: other processes' runs are refused, this session's runs share it. It lasts
    /// until Unlock-DfNbDatabase or until -Expiry has passed.
    /// </summary>
    [Cmdlet(VerbsCommon.Lock, "DfNbDatabase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(DfUpgradeLock))]
    public sealed class LockDfNbDatabase : DfSafetyCmdlet
    {
        /// <summary>What the lock is for, shown to whoever is refused. Default: Lock-DfNbDatabase.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Purpose { get; set; } = "Lock-DfNbDatabase";

        /// <summary>How long the lock lasts unless released; one hour by default.</summary>
        [Parameter]
        public TimeSpan Expiry { get; set; } = TimeSpan.FromHours(1);

        // A bad -Expiry applies to every database: it stops the cmdlet before any is locked.
        protected override void BeginProcessing()
        {
            if (Expiry <= TimeSpan.Zero)
                ThrowTerminatingError(Record(new Engine.Errors.DfException("LockExpiryInvalid", Engine.Errors.DfErrorCategory.InvalidArgument,
                    $"-Expiry is {Expiry}: a lock must last a while.", Expiry.ToString(), "Give -Expiry a positive time span, e.g. 02:00:00 for two hours.")));
        }

        protected override void Process(INbStore store)
        {
            if (!ShouldProcess(store.Location, $"Take the upgrade lock until {DateTime.UtcNow.Add(Expiry):u}")) return;
            WriteObject(new DfUpgradeLock(UpgradeLock.Hold(store, Purpose, Expiry, Logger), Database));
        }
    }

    /// <summary>
    /// Releases the upgrade lock this session took. -Force breaks a lock another process took
    /// whose owner is gone (a crashed run on another host, a closed session); a process of this
    /// host that still runs keeps its lock.
    /// </summary>
    [Cmdlet(VerbsCommon.Unlock, "DfNbDatabase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(DfUpgradeLock))]
    public sealed class UnlockDfNbDatabase : DfSafetyCmdlet
    {
        /// <summary>Break a lock that is not this session's.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Output the lock released.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void Process(INbStore store)
        {
            var held = UpgradeLock.Read(store);
            if (held == null)
            {
                // -Force discards the record of an upgrade under way with no lock too, even one that does not read, as its errors advise.
                if (Force && UpgradeUnderWay.IsRecorded(store))
                {
                    if (ShouldProcess(store.Location, "Discard the record of the upgrade under way")) UpgradeLock.Unlock(store, force: true);
                }
                else WriteVerbose($"{store.Location} is not locked.");
                return;
            }
            string action = UpgradeLock.IsHeldBySession(held) ? "Release the upgrade lock" : $"Break the upgrade lock held by {held}";
            if (!ShouldProcess(store.Location, action)) return;
            var released = UpgradeLock.Unlock(store, Force);
            if (released != null && PassThru) WriteObject(new DfUpgradeLock(released, Database));
        }
    }
}
