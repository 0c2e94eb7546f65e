<#
.SYNOPSIS
    Upgrades a sample Dragonflow NB database from Pike to Queens in the embedded file store,
    showing each step an operator takes. Needs no server.
.PARAMETER Sample
    A Pike NB database in the embedded file format (.jsonl); it is copied, never changed.
.PARAMETER WorkDir
    Where the copy is made and upgraded.
#>
param(
    [Parameter(Mandatory)][string] $Sample,
    [string] $WorkDir = (Join-Path ([IO.Path]::GetTempPath()) "df-demo-$PID")
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force

New-Item -ItemType Directory $WorkDir -Force | Out-Null
$db = Join-Path $WorkDir 'nb.jsonl'
Copy-Item $Sample $db -Force

function Step([string] $Text) { Write-Host "`n=== $Text" -ForegroundColor Cyan }

Step "A Pike NB database: $db"
Get-DfNbTable -Database $db | Format-Table | Out-Host

Step 'Declare it to be at Pike (it has no migration log yet)'
Set-DfMigrationBaseline -Database $db -Release pike -Confirm:$false | Format-Table | Out-Host

Step 'The known migrations'
Get-DfMigration -Database $db | Format-Table | Out-Host

$switch = Get-DfNbObject -Database $db -Table lswitch | Where-Object name -eq 'alpha-net'
Step "A switch before: $($switch.name) holds $(@($switch.subnets).Count) subnets inside it"
$switch | ConvertTo-Json -Depth 5 | Out-Host

Step 'What the upgrade would do (-WhatIf writes nothing)'
$plan = Invoke-DfMigration -Database $db -TargetRelease queens -WhatIf
$plan.Changes | Format-Table | Out-Host

Step 'Upgrade to Queens'
Invoke-DfMigration -Database $db -TargetRelease queens -Confirm:$false | Format-Table | Out-Host

Step 'The migration log'
Get-DfMigrationLog -Database $db | Format-Table | Out-Host

$after = Get-DfNbObject -Database $db -Table lswitch -Id $switch.id
Step "The switch after: its subnets are lsubnet objects now"
$after | ConvertTo-Json -Depth 5 | Out-Host
Get-DfNbObject -Database $db -Table lsubnet | Where-Object lswitch -eq $switch.id | Select-Object id, name, cidr, topic, version, lswitch | Format-Table | Out-Host

Step 'Nothing is pending any more; a second run writes nothing'
Invoke-DfMigration -Database $db -TargetRelease queens -Confirm:$false -Verbose 4>&1 | Out-Host
