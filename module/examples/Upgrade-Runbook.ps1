<#
.SYNOPSIS
    The offline upgrade of a Dragonflow cloud done with the module's smaller cmdlets in a
    pipeline: what Invoke-DfUpgrade does in one command, written out so that a runbook can add
    its own steps between them.
.DESCRIPTION
    Readiness → stop → update the code on every node → rename the configuration options the
    target release reads under new names → back up Neutron's database and the NB database →
    Neutron's migration → the NB migration → start → verify. Any failure after the stop puts
    the cloud back: the new control plane stopped, the NB database and Neutron's database
    restored from their backups, the changed dragonflow.ini files restored, -RevertCommand on
    every node, the old control plane started. Every restore runs even when another fails; if
    any fails, the old control plane is not started over it and the script stops, saying which
    (the backups stay for a restore by hand). Neutron's database is reached through the
    inventory's NeutronDatabase table (-NeutronCredential for a {password} in its commands). Open vSwitch is never touched: the data plane keeps forwarding with
    the flows it has while the control plane is down.

    Unlike Invoke-DfUpgrade, this script keeps no state file: if the machine running it dies,
    recover by hand (Restore-DfNbDatabase with the backup it named, -RevertCommand, Start-DfControlPlane).
.EXAMPLE
    ./Upgrade-Runbook.ps1 -Inventory ./cloud.psd1 -Database redis://10.0.0.5:6379/0 -TargetRelease queens `
        -UpdateCommand 'apt-get install -y python-dragonflow=5.0.0-1' `
        -RevertCommand 'apt-get install -y --allow-downgrades python-dragonflow=4.0.0-1' -BackupFolder /srv/df-upgrade `
        -NeutronCredential (Get-Credential neutron)
#>
param(
    [Parameter(Mandatory)][string] $Inventory,
    [Parameter(Mandatory)][string] $Database,
    [Parameter(Mandatory)][string] $TargetRelease,
    [Parameter(Mandatory)][string] $UpdateCommand,
    [Parameter(Mandatory)][string] $RevertCommand,
    [Parameter(Mandatory)][string] $BackupFolder,
    [string] $KnownHostsPath,
    [pscredential] $NeutronCredential,
    [int] $ServiceDownTime = 80
)
$ErrorActionPreference = 'Stop'
if (-not (Get-Module DragonflowUpgrade)) { Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') }

$ssh = @{}
if ($KnownHostsPath) { $ssh.KnownHostsPath = $KnownHostsPath }
$plane = $ssh + @{ Database = $Database; ServiceDownTime = $ServiceDownTime }
$nodes = Get-DfNode -Inventory $Inventory
$neutron = $ssh + @{ Inventory = $Inventory }
if ($NeutronCredential) { $neutron.DatabaseCredential = $NeutronCredential }

# 1. Readiness: nothing is stopped unless every check passes.
$readiness = $ssh + @{}
if ($NeutronCredential) { $readiness.NeutronCredential = $NeutronCredential }
$checks = Test-DfUpgradeReadiness @readiness -Inventory $Inventory -Database $Database -TargetRelease $TargetRelease -BackupPath $BackupFolder -ServiceDownTime $ServiceDownTime
$checks | Format-Table | Out-Host
if ($checks | Where-Object Status -EQ 'Failed') { throw 'The cloud is not ready for the upgrade; nothing was stopped.' }

$backup = $null; $neutronDump = $null; $neutronMigrated = $false; $configuration = $null; $updated = $false
try {
    # 2. Stop: Neutron servers first, then every Dragonflow service; waits for the heartbeats to stop.
    #    Inside the try: a service that will not stop must not leave the cloud half stopped.
    $nodes | Stop-DfControlPlane @plane -Confirm:$false | Out-Host
    # 3. The new code on every node.
    $updated = $true
    $nodes | Invoke-DfNodeCommand @ssh -Command $UpdateCommand | Out-Host
    # 4. The configuration: the options the new release reads under another name are renamed in
    #    every node's dragonflow.ini (the originals kept under the backup folder and on the node).
    #    -OutVariable keeps the files changed before a failure on another node, so that they are restored too.
    $nodes | Update-DfConfiguration @ssh -TargetRelease $TargetRelease -BackupPath (Join-Path $BackupFolder 'configuration') -Confirm:$false -OutVariable configuration | Out-Host
    # 5. The backups: Neutron's database (a dump with its checksum), then the NB database.
    New-Item -ItemType Directory $BackupFolder -Force | Out-Null
    $neutronDump = Backup-DfNeutronDatabase @neutron -Path (Join-Path $BackupFolder "neutron-$(Get-Date -Format 'yyyyMMddTHHmmss').sql.gz")
    $backup = Backup-DfNbDatabase -Database $Database -Path $BackupFolder
    # 6. Neutron's migration (neutron-db-manage upgrade heads on the controller), then the NB
    #    migration (the migration's own backup goes beside the first).
    $neutronMigrated = $true
    Invoke-DfNeutronMigration @neutron -Confirm:$false | Out-Host
    Invoke-DfMigration -Database $Database -TargetRelease $TargetRelease -BackupPath $BackupFolder -ServiceDownTime $ServiceDownTime -Confirm:$false | Out-Host
    # 7. Start: Dragonflow services, their fresh heartbeats, then Neutron servers.
    $nodes | Start-DfControlPlane @plane -Confirm:$false | Out-Host
    # 8. Verify: every service runs.
    $down = $nodes | Get-DfServiceStatus @ssh | Where-Object Status -NE 'Running'
    if ($down) { throw "Not running after the upgrade: $(($down | ForEach-Object { "$($_.Node.Name)/$($_.Service.Name)" }) -join ', ')" }
}
catch {
    $failure = $_
    Write-Warning "The upgrade failed: $failure. Putting the cloud back."
    # Every restore runs, whatever the others do: -ErrorAction Continue for a failed node or file,
    # try/catch for a failure of the whole command; both are collected in $rollbackErrors.
    $rollbackErrors = [System.Collections.Generic.List[object]]::new()
    $restores = @(
        { $nodes | Stop-DfControlPlane @plane -Confirm:$false -ErrorAction Continue -ErrorVariable +rollbackErrors | Out-Null }
        { if ($backup) { Restore-DfNbDatabase -Database $Database -Path $backup.Path -Confirm:$false -ErrorAction Continue -ErrorVariable +rollbackErrors | Out-Host } }
        { if ($neutronMigrated) { Restore-DfNeutronDatabase @neutron -Path $neutronDump.Path -Confirm:$false -ErrorAction Continue -ErrorVariable +rollbackErrors | Out-Host } }
        { if ($configuration) { $configuration | Restore-DfConfiguration @ssh -Confirm:$false -ErrorAction Continue -ErrorVariable +rollbackErrors | Out-Host } }
        { if ($updated) { $nodes | Invoke-DfNodeCommand @ssh -Command $RevertCommand -ErrorAction Continue -ErrorVariable +rollbackErrors | Out-Host } }
    )
    foreach ($restore in $restores) {
        try { . $restore } catch { $rollbackErrors.Add($_) }
    }
    if ($rollbackErrors.Count -gt 0) {
        # The old control plane is not started over a database or a file that was not put back.
        throw "The upgrade failed ($failure), and $($rollbackErrors.Count) restore(s) failed: $($rollbackErrors -join '; '). The control plane stays stopped; the backups are in $BackupFolder."
    }
    $nodes | Start-DfControlPlane @plane -Confirm:$false | Out-Host
    throw $failure
}
